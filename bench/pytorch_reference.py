#!/usr/bin/env python3
"""PyTorch references for `mtc bench`.

conv3d: forward + input grad + filter grad of one 3D convolution.
  python3 bench/pytorch_reference.py conv3d --shape 2,32,32,32,16 --filters 16 --kernel 3 --stride 1
infer: sliding-window inference of that U-Net on a synthetic volume, as `mtc infer` does it:
  python3 bench/pytorch_reference.py infer --features 8,16,32,64 --patch 32,32,32 --volume 200,512,512 --classes 2
swin_check: SwinUNETR (MONAI 1.3's topology, written out below) with mtc's weights and input from
--dir: its output and the gradients of sum(output * probe) (test/runtime/model/swin-reference.test.ts).
count: parameters of the PyTorch builds of the paper's three networks (test/runtime/model/param-counts.test.ts):
  python3 bench/pytorch_reference.py count --arch swin_unetr --feature-size 48 --classes 47
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
import math
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
        self.skip = ConvNorm(cin, cout, 1, stride) if (cin != cout or stride not in (1, (1, 1, 1))) else None
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x):
        s = self.skip(x) if self.skip is not None else x
        return self.act(self.unit2(self.unit1(x)) + s)


class ResEncUNet(nn.Module):
    """The resenc_unet of src/runtime/model/unet.ts: stem conv unit, residual blocks per encoder stage
    (the first strided: stage 0 stride 1, then 2), plain decoder with one conv unit per stage."""

    def __init__(self, features, blocks, classes, strides=None):
        super().__init__()
        strides = strides or [(1, 1, 1)] + [(2, 2, 2)] * (len(features) - 1)
        self.stem = ConvUnit(1, features[0], 1)
        self.enc = nn.ModuleList()
        for i, f in enumerate(features):
            cin = features[0] if i == 0 else features[i - 1]
            stride = tuple(strides[i])
            self.enc.append(nn.Sequential(*[ResidualBlock(cin if j == 0 else f, f, stride if j == 0 else 1) for j in range(blocks[i])]))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(len(features) - 2, -1, -1):
            f = features[i]
            s = tuple(strides[i + 1])
            self.up.append(nn.ConvTranspose3d(features[i + 1], f, s, stride=s, bias=True))
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



# ---------------------------------------------------------------------------------------------
# SwinUNETR (MONAI 1.3's topology, use_v2=False, spatial_dims=3, norm 'instance', dropout and drop
# path 0, normalize=True, downsample 'merging'), written out here because MONAI is not installed.
# The same network as src/runtime/model/swin.ts; `swin_weight_map` names each mtc parameter's tensor.

class SwinMlp(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.linear1 = nn.Linear(c, hidden)
        self.linear2 = nn.Linear(hidden, c)

    def forward(self, x):
        return self.linear2(F.gelu(self.linear1(x)))


def swin_window(dims, window):
    """MONAI's get_window_size with the odd blocks' shift window // 2."""
    win = [d if d <= w else w for d, w in zip(dims, window)]
    shift = [0 if d <= w else w // 2 for d, w in zip(dims, window)]
    return win, shift


def swin_partition(x, w):
    b, d, h, ww, c = x.shape
    x = x.view(b, d // w[0], w[0], h // w[1], w[1], ww // w[2], w[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).contiguous().view(-1, w[0] * w[1] * w[2], c)


def swin_reverse(windows, w, dims):
    b, d, h, ww = dims
    x = windows.view(b, d // w[0], h // w[1], ww // w[2], w[0], w[1], w[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).contiguous().view(b, d, h, ww, -1)


def swin_mask(dims, win, shift):
    d, h, w = dims
    img = torch.zeros((1, d, h, w, 1))
    cnt = 0
    for sd in slice(-win[0]), slice(-win[0], -shift[0]), slice(-shift[0], None):
        for sh in slice(-win[1]), slice(-win[1], -shift[1]), slice(-shift[1], None):
            for sw in slice(-win[2]), slice(-win[2], -shift[2]), slice(-shift[2], None):
                img[:, sd, sh, sw, :] = cnt
                cnt += 1
    mw = swin_partition(img, win).squeeze(-1)
    m = mw.unsqueeze(1) - mw.unsqueeze(2)
    return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)


class SwinAttention(nn.Module):
    def __init__(self, c, heads, window):
        super().__init__()
        self.heads = heads
        self.scale = (c // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1), heads))
        coords = torch.stack(torch.meshgrid(*[torch.arange(w) for w in window], indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        for a in range(3):
            rel[:, :, a] += window[a] - 1
        rel[:, :, 0] *= (2 * window[1] - 1) * (2 * window[2] - 1)
        rel[:, :, 1] *= 2 * window[2] - 1
        self.register_buffer("relative_position_index", rel.sum(-1))
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x, mask):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.clone()[:n, :n].reshape(-1)].reshape(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class SwinBlock(nn.Module):
    def __init__(self, c, heads, window, shifted):
        super().__init__()
        self.window, self.shifted = window, shifted
        self.norm1 = nn.LayerNorm(c)
        self.attn = SwinAttention(c, heads, window)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = SwinMlp(c, 4 * c)

    def forward(self, x, mask):
        b, d, h, w, c = x.shape
        win, shift = swin_window((d, h, w), self.window)
        if not self.shifted:
            shift = [0, 0, 0]
        y = self.norm1(x)
        pd, ph, pw = [(win[a] - s % win[a]) % win[a] for a, s in enumerate((d, h, w))]
        y = F.pad(y, (0, 0, 0, pw, 0, ph, 0, pd))
        _, dp, hp, wp, _ = y.shape
        rolled = any(s > 0 for s in shift)
        if rolled:
            y = torch.roll(y, shifts=(-shift[0], -shift[1], -shift[2]), dims=(1, 2, 3))
        y = self.attn(swin_partition(y, win), mask if rolled else None)
        y = swin_reverse(y.view(-1, *win, c), win, [b, dp, hp, wp])
        if rolled:
            y = torch.roll(y, shifts=tuple(shift), dims=(1, 2, 3))
        x = x + y[:, :d, :h, :w, :].contiguous()
        return x + self.mlp(self.norm2(x))


class SwinMerging(nn.Module):
    """MONAI's PatchMerging ('merging', the v0.9.0 order of the 8 neighbours)."""

    def __init__(self, c):
        super().__init__()
        self.norm = nn.LayerNorm(8 * c)
        self.reduction = nn.Linear(8 * c, 2 * c, bias=False)

    def forward(self, x):
        parts = [x[:, 0::2, 0::2, 0::2], x[:, 1::2, 0::2, 0::2], x[:, 0::2, 1::2, 0::2], x[:, 0::2, 0::2, 1::2],
                 x[:, 1::2, 0::2, 1::2], x[:, 0::2, 1::2, 0::2], x[:, 0::2, 0::2, 1::2], x[:, 1::2, 1::2, 1::2]]
        return self.reduction(self.norm(torch.cat(parts, -1)))


class SwinStage(nn.Module):
    def __init__(self, c, depth, heads, window):
        super().__init__()
        self.window = window
        self.blocks = nn.ModuleList([SwinBlock(c, heads, window, i % 2 == 1) for i in range(depth)])
        self.downsample = SwinMerging(c)

    def forward(self, x):
        b, c, d, h, w = x.shape
        win, shift = swin_window((d, h, w), self.window)
        x = x.permute(0, 2, 3, 4, 1)
        dims = [int(math.ceil(s / win[a])) * win[a] for a, s in enumerate((d, h, w))]
        mask = swin_mask(dims, win, shift)
        for blk in self.blocks:
            x = blk(x, mask)
        return self.downsample(x).permute(0, 4, 1, 2, 3)


class UnetResBlock(nn.Module):
    """MONAI's UnetResBlock (kernel 3, stride 1, instance norm without affine, LeakyReLU 0.01, convs without bias)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1, bias=False)
        self.norm1 = nn.InstanceNorm3d(cout)
        self.norm2 = nn.InstanceNorm3d(cout)
        self.conv3 = nn.Conv3d(cin, cout, 1, bias=False) if cin != cout else None
        self.norm3 = nn.InstanceNorm3d(cout) if cin != cout else None

    def forward(self, x):
        y = self.norm2(self.conv2(F.leaky_relu(self.norm1(self.conv1(x)), 0.01)))
        r = self.norm3(self.conv3(x)) if self.conv3 is not None else x
        return F.leaky_relu(y + r, 0.01)


class UnetrUpBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.transp_conv = nn.ConvTranspose3d(cin, cout, 2, stride=2, bias=False)
        self.conv_block = UnetResBlock(2 * cout, cout)

    def forward(self, x, skip):
        return self.conv_block(torch.cat((self.transp_conv(x), skip), 1))


class SwinUNETR(nn.Module):
    def __init__(self, feature_size, classes, depths=(2, 2, 2, 2), heads=(3, 6, 12, 24), window=(7, 7, 7)):
        super().__init__()
        f = feature_size
        self.patch_embed = nn.Conv3d(1, f, 2, stride=2)
        self.layers = nn.ModuleList([SwinStage(f * 2 ** i, depths[i], heads[i], window) for i in range(4)])
        self.encoder1 = UnetResBlock(1, f)
        self.encoder2 = UnetResBlock(f, f)
        self.encoder3 = UnetResBlock(2 * f, 2 * f)
        self.encoder4 = UnetResBlock(4 * f, 4 * f)
        self.encoder10 = UnetResBlock(16 * f, 16 * f)
        self.decoder5 = UnetrUpBlock(16 * f, 8 * f)
        self.decoder4 = UnetrUpBlock(8 * f, 4 * f)
        self.decoder3 = UnetrUpBlock(4 * f, 2 * f)
        self.decoder2 = UnetrUpBlock(2 * f, f)
        self.decoder1 = UnetrUpBlock(f, f)
        self.out = nn.Conv3d(f, classes, 1)

    @staticmethod
    def proj_out(x):
        return F.layer_norm(x.permute(0, 2, 3, 4, 1), [x.shape[1]]).permute(0, 4, 1, 2, 3)

    def forward(self, x_in):
        x = self.patch_embed(x_in)
        hs = [self.proj_out(x)]
        for layer in self.layers:
            x = layer(x)
            hs.append(self.proj_out(x))
        enc0 = self.encoder1(x_in)
        enc1 = self.encoder2(hs[0])
        enc2 = self.encoder3(hs[1])
        enc3 = self.encoder4(hs[2])
        dec4 = self.encoder10(hs[4])
        dec3 = self.decoder5(dec4, hs[3])
        dec2 = self.decoder4(dec3, enc3)
        dec1 = self.decoder3(dec2, enc2)
        dec0 = self.decoder2(dec1, enc1)
        return self.out(self.decoder1(dec0, enc0))


def swin_weight_map(net):
    """mtc parameter name -> (torch tensor, mtc layout to torch layout)."""
    conv = lambda w: w.permute(4, 3, 0, 1, 2)  # [kz,ky,kx,in,out] -> [out,in,kz,ky,kx]
    up = lambda w: w.permute(4, 3, 0, 1, 2)  # [sz,sy,sx,out,in] -> [in,out,sz,sy,sx]
    lin = lambda w: w.t()  # [in,out] -> [out,in]
    same = lambda w: w
    m = {"vit.embed.weight": (net.patch_embed.weight, conv), "vit.embed.bias": (net.patch_embed.bias, same)}
    for l, layer in enumerate(net.layers):
        for b, blk in enumerate(layer.blocks):
            p = f"vit.layer{l}.block{b}"
            m.update({
                f"{p}.norm1.scale": (blk.norm1.weight, same), f"{p}.norm1.offset": (blk.norm1.bias, same),
                f"{p}.attn.qkv.weight": (blk.attn.qkv.weight, lin), f"{p}.attn.qkv.bias": (blk.attn.qkv.bias, same),
                f"{p}.attn.rel_bias": (blk.attn.relative_position_bias_table, same),
                f"{p}.attn.proj.weight": (blk.attn.proj.weight, lin), f"{p}.attn.proj.bias": (blk.attn.proj.bias, same),
                f"{p}.norm2.scale": (blk.norm2.weight, same), f"{p}.norm2.offset": (blk.norm2.bias, same),
                f"{p}.mlp.fc1.weight": (blk.mlp.linear1.weight, lin), f"{p}.mlp.fc1.bias": (blk.mlp.linear1.bias, same),
                f"{p}.mlp.fc2.weight": (blk.mlp.linear2.weight, lin), f"{p}.mlp.fc2.bias": (blk.mlp.linear2.bias, same),
            })
        m[f"vit.layer{l}.merge.norm.scale"] = (layer.downsample.norm.weight, same)
        m[f"vit.layer{l}.merge.norm.offset"] = (layer.downsample.norm.bias, same)
        m[f"vit.layer{l}.merge.reduction.weight"] = (layer.downsample.reduction.weight, lin)
    blocks = {"enc0": net.encoder1, "enc1": net.encoder2, "enc2": net.encoder3, "enc3": net.encoder4, "enc10": net.encoder10}
    for d in range(5, 0, -1):
        dec = getattr(net, f"decoder{d}")
        m[f"dec{d}.up.weight"] = (dec.transp_conv.weight, up)
        blocks[f"dec{d}"] = dec.conv_block
    for name, blk in blocks.items():
        for k in ("conv1", "conv2", "conv3"):
            if getattr(blk, k) is not None:
                m[f"{name}.{k}.weight"] = (getattr(blk, k).weight, conv)
    m["head.weight"] = (net.out.weight, conv)
    m["head.bias"] = (net.out.bias, same)
    return m


def swin_check(a):
    """Loads mtc's weights and input from --dir, writes the forward output and the gradients of
    sum(output * probe) for the parameters listed in meta.json (all float32, mtc layouts)."""
    import numpy as np
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    net = SwinUNETR(meta["featureSize"], meta["classes"]).double() if meta.get("double") else SwinUNETR(meta["featureSize"], meta["classes"])
    dtype = torch.float64 if meta.get("double") else torch.float32
    flat = np.fromfile(os.path.join(a.dir, "weights.bin"), dtype=np.float32)
    mapping = swin_weight_map(net)
    if set(mapping) != {w["name"] for w in meta["weights"]}:
        raise SystemExit(f"parameter names differ: {sorted(set(mapping) ^ {w['name'] for w in meta['weights']})}")
    off = 0
    with torch.no_grad():
        for w in meta["weights"]:
            n = int(np.prod(w["shape"]))
            t = torch.from_numpy(flat[off:off + n].copy()).reshape(w["shape"]).to(dtype)
            off += n
            dst, to_torch = mapping[w["name"]]
            dst.copy_(to_torch(t))
    x = torch.from_numpy(np.fromfile(os.path.join(a.dir, "input.bin"), dtype=np.float32)).reshape(meta["input"]).to(dtype)
    probe = torch.from_numpy(np.fromfile(os.path.join(a.dir, "probe.bin"), dtype=np.float32)).to(dtype)
    out = net(x.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1).contiguous()
    (out.reshape(-1) * probe).sum().backward()
    out.detach().float().numpy().tofile(os.path.join(a.dir, "out.bin"))
    grads = []
    for name in meta["grads"]:
        t, _ = mapping[name]
        g = t.grad
        # back to mtc's layout: the inverse of each mapping's permutation
        if g.dim() == 5:
            g = g.permute(2, 3, 4, 1, 0)
        elif g.dim() == 2 and not name.endswith("rel_bias"):
            g = g.t()
        grads.append(g.contiguous().reshape(-1).float())
    torch.cat(grads).numpy().tofile(os.path.join(a.dir, "grads.bin"))
    return {"name": "swin_check", "parameters": sum(p.numel() for p in net.parameters())}



def count(a):
    """Parameters of the PyTorch build of a network (nothing is run): unet / resenc_unet with
    deep-supervision heads (a 1x1x1 conv with bias from decoder stages 1 .. n-2, as mtc adds them),
    or swin_unetr."""
    classes = a.classes
    if a.arch == "swin_unetr":
        net = SwinUNETR(a.feature_size, classes)
        return {"name": "count", "arch": a.arch, "parameters": sum(p.numel() for p in net.parameters())}
    features = [int(v) for v in a.features.split(",")]
    strides = [tuple(int(v) for v in s.split(",")) for s in a.strides.split(";")] if a.strides else None
    if a.arch == "resenc_unet":
        net = ResEncUNet(features, [int(v) for v in a.blocks.split(",")], classes, strides)
    else:
        net = UNet(features, classes, strides=strides)
    n = sum(p.numel() for p in net.parameters())
    if a.deep_supervision:
        ds = [nn.Conv3d(features[k], classes, 1, bias=True) for k in range(1, len(features) - 1)]
        n += sum(p.numel() for d in ds for p in d.parameters())
    return {"name": "count", "arch": a.arch, "parameters": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("op", choices=["conv3d", "step", "infer", "swin_check", "count"])
    ap.add_argument("--dir", help="swin_check: folder with meta.json, weights.bin, input.bin, probe.bin")
    ap.add_argument("--feature-size", type=int, default=48, help="count: SwinUNETR's feature size")
    ap.add_argument("--deep-supervision", action="store_true", help="count: add the deep-supervision heads")
    ap.add_argument("--shape", help="conv3d: B,D,H,W,C (NDHWC)")
    ap.add_argument("--filters", type=int)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--pad", choices=["same", "valid"], default="same")
    ap.add_argument("--patch", default="32,32,32", help="step: D,H,W")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--features", default="16,32,64,128")
    ap.add_argument("--arch", choices=["unet", "resenc_unet", "swin_unetr"], default="unet")
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
    elif a.op == "swin_check":
        result = swin_check(a)
    elif a.op == "count":
        result = count(a)
    else:
        result = step(a)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
