#!/usr/bin/env python3
"""PyTorch references for `mtc bench`.

conv3d: forward + input grad + filter grad of one 3D convolution.
  python3 bench/pytorch_reference.py conv3d --shape 2,32,32,32,16 --filters 16 --kernel 3 --stride 1
infer: sliding-window inference of that U-Net on a synthetic volume, as `mtc infer` does it:
  python3 bench/pytorch_reference.py infer --features 8,16,32,64 --patch 32,32,32 --volume 200,512,512 --classes 2
step: one training step (forward, MultiTalent loss, backward, grad-norm clip 12, SGD Nesterov 0.99,
weight decay 3e-5) of the same plain 3D U-Net as src/runtime/model/unet.ts (or, with --arch
resenc_unet [--blocks 1,2,3,4], its residual-encoder U-Net):
  python3 bench/pytorch_reference.py step --patch 32,32,32 --batch 2 --classes 8 --features 16,32,64,128

On the CPU, DNNL_MAX_CPU_ISA and ATEN_CPU_CAPABILITY (set by `mtc bench` when the project's kernels
run below the machine's best instruction set) cap oneDNN's and ATen's instruction set alike.

--device cuda runs the same on the GPU in fp32 with TF32 off (cuDNN autotuning on, as nnU-Net), timed
with torch.cuda.synchronize(); --tf32 allows TF32 (reported in the backend name).

Prints one JSON line {name, backend, ms, gflops, ...}. FLOPs follow src/runtime/kernels/bench.ts
(conv3d: 3 * 2*B*Do*Ho*Wo*F*Cin*k^3) and src/runtime/train/step-flops.ts (step: the same formula
summed over every convolution, transposed convolution and the head). Shapes are NDHWC as in tfjs
and permuted to PyTorch's NCDHW; 'same' padding with stride > 1 is applied as tfjs/TensorFlow does
(extra pad at the end) for conv3d; the U-Net uses padding 1 (same output sizes, same work).
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def same_pads(size, k, s):
    out = -(-size // s)
    total = max(0, (out - 1) * s + k - size)
    return total // 2, total - total // 2


DEVICE = torch.device("cpu")


def backend_name(threads):
    if DEVICE.type == "cuda":
        tf32 = "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"
        return f"pytorch-{torch.__version__}-cuda({torch.cuda.get_device_name(0)}, {tf32})"
    # `mtc bench` caps PyTorch's instruction set (DNNL_MAX_CPU_ISA, ATEN_CPU_CAPABILITY) to the
    # build its own kernels use when that is below the machine's best (e.g. MTC_CONV3D_ISA=avx2).
    cap = os.environ.get("DNNL_MAX_CPU_ISA")
    return f"pytorch-{torch.__version__}-cpu({threads}t{', isa<=' + cap.lower() if cap else ''})"


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def conv3d(a):
    b, d, h, w, c = (int(v) for v in a.shape.split(","))
    k, s = a.kernel, a.stride
    x = torch.empty(b, c, d, h, w, device=DEVICE).uniform_(-1, 1)
    if a.pad == "same":
        pads = [same_pads(n, k, s) for n in (d, h, w)]
        if all(lo == hi for lo, hi in pads):
            padding = tuple(lo for lo, _ in pads)
        else:  # asymmetric: pad explicitly (W, H, D order for F.pad)
            x = F.pad(x, (pads[2][0], pads[2][1], pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
            padding = 0
    else:
        padding = 0
    x.requires_grad_(True)
    wt = torch.empty(a.filters, c, k, k, k, device=DEVICE).uniform_(-1, 1).requires_grad_(True)
    with torch.no_grad():
        y0 = F.conv3d(x, wt, stride=s, padding=padding)
    dy = torch.empty_like(y0).uniform_(-1, 1)

    def step():
        sync()
        t0 = time.perf_counter()
        y = F.conv3d(x, wt, stride=s, padding=padding)
        torch.autograd.grad(y, (x, wt), dy)
        sync()
        return (time.perf_counter() - t0) * 1e3

    for _ in range(a.warmup):
        step()
    ms = statistics.median(step() for _ in range(a.repeats))
    _, _, do, ho, wo = y0.shape
    flops = 3 * 2 * b * do * ho * wo * a.filters * c * k ** 3
    return {
        "name": f"conv3d [{a.shape}]->{a.filters} k{k} s{s} {a.pad}",
        "backend": backend_name(a.threads),
        "ms": ms,
        "gflops": flops / (ms * 1e6),
    }


class ConvUnit(nn.Module):
    """conv3x3x3 + bias -> InstanceNorm3d(eps 1e-5, affine) -> LeakyReLU(0.01)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=True)
        self.norm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True)
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class UNet(nn.Module):
    """The plain U-Net of src/runtime/model/unet.ts: 2 conv units per stage, the first strided
    (default: stage 0 stride 1, then 2; or per stage `strides`); decoder ConvTranspose3d(kernel =
    stride), concat with the skip, 2 conv units; 1x1x1 head with one logit per class."""

    def __init__(self, features, classes, convs=2, strides=None):
        super().__init__()
        strides = strides or [(1, 1, 1)] + [(2, 2, 2)] * (len(features) - 1)
        self.stem = nn.Identity()
        self.enc = nn.ModuleList()
        cin = 1
        for i, f in enumerate(features):
            units = [ConvUnit(cin if j == 0 else f, f, tuple(strides[i]) if j == 0 else 1) for j in range(convs)]
            self.enc.append(nn.Sequential(*units))
            cin = f
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(len(features) - 2, -1, -1):
            f = features[i]
            s = tuple(strides[i + 1])
            self.up.append(nn.ConvTranspose3d(features[i + 1], f, s, stride=s, bias=True))
            self.dec.append(nn.Sequential(*[ConvUnit(2 * f if j == 0 else f, f, 1) for j in range(convs)]))
        self.head = nn.Conv3d(features[0], classes, 1, bias=True)

    def forward(self, x):
        x = self.stem(x)
        skips = []
        for stage in self.enc:
            x = stage(x)
            skips.append(x)
        for k, (up, dec) in enumerate(zip(self.up, self.dec)):
            x = dec(torch.cat([up(x), skips[-2 - k]], 1))
        return self.head(x)


class ConvNorm(nn.Module):
    """conv + bias -> InstanceNorm3d(eps 1e-5, affine), no activation."""

    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, stride=stride, padding=k // 2, bias=True)
        self.norm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True)

    def forward(self, x):
        return self.norm(self.conv(x))


class ResidualBlock(nn.Module):
    """src/runtime/model/unet.ts's residual block: conv-IN-LReLU-conv-IN (last IN scale 0) plus the
    skip (identity, or strided 1x1x1 conv + IN when stride or width change), then LeakyReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.unit1 = ConvUnit(cin, cout, stride)
        self.unit2 = ConvNorm(cout, cout, 3, 1)
        nn.init.zeros_(self.unit2.norm.weight)
        self.skip = ConvNorm(cin, cout, 1, stride) if (cin != cout or stride != 1) else None
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x):
        s = self.skip(x) if self.skip is not None else x
        return self.act(self.unit2(self.unit1(x)) + s)


class ResEncUNet(nn.Module):
    """The resenc_unet of src/runtime/model/unet.ts: stem conv unit, residual blocks per encoder stage
    (the first strided: stage 0 stride 1, then 2), plain decoder with one conv unit per stage."""

    def __init__(self, features, blocks, classes):
        super().__init__()
        self.stem = ConvUnit(1, features[0], 1)
        self.enc = nn.ModuleList()
        for i, f in enumerate(features):
            cin = features[0] if i == 0 else features[i - 1]
            stride = 1 if i == 0 else 2
            self.enc.append(nn.Sequential(*[ResidualBlock(cin if j == 0 else f, f, stride if j == 0 else 1) for j in range(blocks[i])]))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(len(features) - 2, -1, -1):
            f = features[i]
            self.up.append(nn.ConvTranspose3d(features[i + 1], f, 2, stride=2, bias=True))
            self.dec.append(ConvUnit(2 * f, f, 1))
        self.head = nn.Conv3d(features[0], classes, 1, bias=True)

    forward = UNet.forward  # stem, encoder stages, decoder with skips, head


def multitalent_loss(z, g, m):
    """src/runtime/loss/multitalent.ts: z, g [B, C, D, H, W]; m [B, C]."""
    spatial = (2, 3, 4)
    bce_vox = F.binary_cross_entropy_with_logits(z, g, reduction="none")
    bce = (m * bce_vox.mean(spatial)).sum(0)
    p = torch.sigmoid(z)
    inter = (p * g).sum(spatial)
    num = 2 * (m * inter).sum(0)
    den = torch.clamp((m * (p.sum(spatial) + g.sum(spatial))).sum(0), min=1e-7)
    dice = num / den
    annotated = (m.sum(0) > 0).float()
    return (annotated * (bce - dice)).sum()


def conv_flops(out_vox, cin, cout, taps):
    return 3 * 2 * out_vox * cin * cout * taps


def stage_voxels(stages, batch, patch):
    size = list(patch)
    out = []
    for i in range(stages):
        if i > 0:
            size = [s // 2 for s in size]
        out.append(batch * size[0] * size[1] * size[2])
    return out


def step_flops(features, classes, batch, patch, convs=2, blocks=None):
    """Same formulas as src/runtime/train/step-flops.ts: unetStepFlops, or with blocks
    resencStepFlops (stem, residual blocks with projection skips, convs = 1 decoder unit)."""
    sizes = stage_voxels(len(features), batch, patch)
    total = 0
    if blocks is None:
        for i, f in enumerate(features):
            for j in range(convs):
                total += conv_flops(sizes[i], (1 if i == 0 else features[i - 1]) if j == 0 else f, f, 27)
    else:
        total += conv_flops(sizes[0], 1, features[0], 27)
        for i, f in enumerate(features):
            for j in range(blocks[i]):
                cin = f if j > 0 else (features[0] if i == 0 else features[i - 1])
                total += conv_flops(sizes[i], cin, f, 27) + conv_flops(sizes[i], f, f, 27)
                if j == 0 and (cin != f or i > 0):
                    total += conv_flops(sizes[i], cin, f, 1)
    for i in range(len(features) - 2, -1, -1):
        f = features[i]
        total += conv_flops(sizes[i + 1], features[i + 1], 8 * f, 1)  # kernel = stride 2: 8 taps per input voxel
        for j in range(convs):
            total += conv_flops(sizes[i], 2 * f if j == 0 else f, f, 27)
    total += conv_flops(sizes[0], features[0], classes, 1)
    return total


def step(a):
    features = [int(v) for v in a.features.split(",")]
    d, h, w = (int(v) for v in a.patch.split(","))
    b, c = a.batch, a.classes
    if a.arch == "resenc_unet":
        blocks = [int(v) for v in a.blocks.split(",")] if a.blocks else [[1, 2, 3, 4][min(i, 3)] for i in range(len(features))]
        net = ResEncUNet(features, blocks, c).to(DEVICE)
    else:
        blocks = None
        net = UNet(features, c).to(DEVICE)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)
    x = torch.randn(b, 1, d, h, w, device=DEVICE)
    g = (torch.rand(b, c, d, h, w, device=DEVICE) < 0.1).float()
    m = torch.tensor([[1.0 if (j % 4) == (i % 4) else 0.0 for j in range(c)] for i in range(b)], device=DEVICE)

    def one():
        sync()
        t0 = time.perf_counter()
        c0 = time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = multitalent_loss(net(x), g, m)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
        opt.step()
        loss.item()
        return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3

    for _ in range(a.warmup):
        one()
    runs = [one() for _ in range(a.repeats)]
    ms = statistics.median(r[0] for r in runs)
    cpu_ms = statistics.median(r[1] for r in runs)
    if blocks:
        flops = step_flops(features, c, b, (d, h, w), convs=1, blocks=blocks)
        label = f"step resenc_unet patch {d}x{h}x{w} batch {b} features [{a.features}] blocks [{','.join(map(str, blocks))}] classes {c}"
    else:
        flops = step_flops(features, c, b, (d, h, w))
        label = f"step unet patch {d}x{h}x{w} batch {b} features [{a.features}] classes {c}"
    return {
        "name": label,
        "backend": backend_name(a.threads),
        "ms": ms,
        # Process CPU time (every thread): counts OpenMP threads spin-waiting unless OMP_WAIT_POLICY=PASSIVE.
        "cpu_ms": cpu_ms,
        "gflops": flops / (ms * 1e6),
        "parameters": params,
    }


def compute_steps(size, tile, step):
    """nnU-Net's compute_steps_for_sliding_window along one axis (src/runtime/infer/tiling.ts)."""
    import math

    n = int(math.ceil((size - tile) / (tile * step))) + 1
    actual = (size - tile) / (n - 1) if n > 1 else 0
    return [int(round(actual * i)) for i in range(n)]  # Python's round: half to even, as np.round


def gaussian_map(tile):
    """nnU-Net's importance map (src/runtime/infer/gaussian.ts): centre tile // 2, sigma tile / 8, max 1."""
    axes = []
    for t in tile:
        c, sigma = t // 2, t / 8
        i = torch.arange(t, dtype=torch.float64)
        axes.append(torch.exp(-((i - c) ** 2) / (2 * sigma * sigma)))
    g = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    g = g / g.max()
    g[g == 0] = g[g > 0].min()
    return g.float()


MIRRORS = [(), (4,), (3,), (2,), (3, 4), (2, 4), (2, 3), (2, 3, 4)]


def infer(a):
    """Sliding-window inference exactly as src/runtime/infer/sliding-window.ts: tiles of the patch at
    step 0.5, sigmoid per tile (averaged over the 8 mirrorings with --mirror), Gaussian-weighted
    accumulation in float32, division by the summed weights; --tiles N times the first N tiles only."""
    features = [int(v) for v in a.features.split(",")]
    strides = [tuple(int(v) for v in s.split(",")) for s in a.strides.split(";")] if a.strides else None
    tile = tuple(int(v) for v in a.patch.split(","))
    shape = tuple(int(v) for v in a.volume.split(","))
    nets = [UNet(features, int(c), strides=strides).to(DEVICE).eval() for c in a.ensemble.split(",")] if a.ensemble else [UNet(features, a.classes, strides=strides).to(DEVICE).eval()]
    params = sum(p.numel() for n in nets for p in n.parameters())
    g = gaussian_map(tile).to(DEVICE)
    image = torch.randn(1, 1, *shape, device=DEVICE)
    steps = [compute_steps(shape[d], tile[d], a.step) for d in range(3)]
    positions = [(z, y, x) for z in steps[0] for y in steps[1] for x in steps[2]]
    todo = positions[: a.tiles] if a.tiles > 0 else positions

    def predict(net, t):
        if not a.mirror:
            return torch.sigmoid(net(t))
        acc = None
        for axes in MIRRORS:
            p = torch.sigmoid(net(torch.flip(t, axes) if axes else t))
            p = torch.flip(p, axes) if axes else p
            acc = p if acc is None else acc + p
        return acc / len(MIRRORS)

    def run(net, tiles):
        heads = 1 if a.aggregate == "1" else net.head.out_channels
        acc = torch.zeros(heads, *shape, device=DEVICE)
        norm = torch.zeros(shape, device=DEVICE)
        for z, y, x in tiles:
            sl = (slice(z, z + tile[0]), slice(y, y + tile[1]), slice(x, x + tile[2]))
            p = predict(net, image[(slice(None), slice(None)) + sl])[0, :heads]
            acc[(slice(None),) + sl] += p * g
            norm[sl] += g
        out = acc / torch.clamp(norm, min=1e-12)
        sync()
        return out

    with torch.no_grad():
        run(nets[0], todo[:1])  # warm-up
        sync()
        t0 = time.perf_counter()
        for net in nets:
            run(net, todo)
        ms = (time.perf_counter() - t0) * 1e3
    per_tile = ms / (len(todo) * len(nets))
    return {
        "name": f"infer unet features [{a.features}] patch {a.patch} volume {a.volume}{' ensemble ' + a.ensemble if a.ensemble else ' classes ' + str(a.classes)}{' mirror' if a.mirror else ''}",
        "backend": backend_name(a.threads),
        "ms": ms,
        "tiles": len(positions),
        "tiles_predicted": len(todo),
        "ms_per_tile": per_tile,
        "case_ms": per_tile * len(positions) * len(nets),
        "parameters": params,
        "gflops": 0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("op", choices=["conv3d", "step", "infer"])
    ap.add_argument("--shape", help="conv3d: B,D,H,W,C (NDHWC)")
    ap.add_argument("--filters", type=int)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--pad", choices=["same", "valid"], default="same")
    ap.add_argument("--patch", default="32,32,32", help="step: D,H,W")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--features", default="16,32,64,128")
    ap.add_argument("--arch", choices=["unet", "resenc_unet"], default="unet")
    ap.add_argument("--blocks", help="resenc_unet: residual blocks per encoder stage (default 1,2,3,4,4,4)")
    ap.add_argument("--strides", help="infer: per-stage strides 'z,y,x;z,y,x;...' (default 1 then 2)")
    ap.add_argument("--volume", default="200,512,512", help="infer: volume D,H,W")
    ap.add_argument("--tiles", type=int, default=0, help="infer: time only the first N tiles (0: all)")
    ap.add_argument("--mirror", action="store_true", help="infer: test-time mirroring over all axes")
    ap.add_argument("--step", type=float, default=0.5, help="infer: sliding-window step (fraction of the patch)")
    ap.add_argument("--ensemble", help="infer: classes per network of an ensemble, e.g. 2,1,2 (default: one network)")
    ap.add_argument("--aggregate", choices=["all", "1"], default="all", help="infer: classes accumulated per network")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--tf32", action="store_true", help="cuda: allow TF32 (default: strict fp32)")
    a = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(a.device)
    if a.device == "cuda":
        if not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.op == "conv3d":
        if not a.shape or not a.filters:
            ap.error("conv3d needs --shape and --filters")
        result = conv3d(a)
    elif a.op == "infer":
        result = infer(a)
    else:
        result = step(a)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
