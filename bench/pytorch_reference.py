#!/usr/bin/env python3
"""PyTorch reference for `mtc bench conv3d`: forward + input grad + filter grad.

Usage: python3 bench/pytorch_reference.py conv3d --shape 2,32,32,32,16 --filters 16 --kernel 3 --stride 1
Prints one JSON line {name, backend, ms, gflops}, with the same FLOP formula as
src/runtime/kernels/bench.ts: 3 * 2*B*Do*Ho*Wo*F*Cin*k^3 / time. The shape is
NDHWC (as in tfjs) and is permuted to PyTorch's NCDHW; 'same' padding with
stride > 1 is applied as tfjs/TensorFlow does (extra pad at the end).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def same_pads(size, k, s):
    out = -(-size // s)
    total = max(0, (out - 1) * s + k - size)
    return total // 2, total - total // 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("op", choices=["conv3d"])
    ap.add_argument("--shape", required=True, help="B,D,H,W,C (NDHWC)")
    ap.add_argument("--filters", type=int, required=True)
    ap.add_argument("--kernel", type=int, required=True)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--pad", choices=["same", "valid"], default="same")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    b, d, h, w, c = (int(v) for v in a.shape.split(","))
    k, s = a.kernel, a.stride
    x = torch.empty(b, c, d, h, w).uniform_(-1, 1)
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
    wt = torch.empty(a.filters, c, k, k, k).uniform_(-1, 1).requires_grad_(True)
    with torch.no_grad():
        y0 = F.conv3d(x, wt, stride=s, padding=padding)
    dy = torch.empty_like(y0).uniform_(-1, 1)

    def step():
        t0 = time.perf_counter()
        y = F.conv3d(x, wt, stride=s, padding=padding)
        gx, gw = torch.autograd.grad(y, (x, wt), dy)
        return (time.perf_counter() - t0) * 1e3

    for _ in range(a.warmup):
        step()
    ms = statistics.median(step() for _ in range(a.repeats))
    _, _, do, ho, wo = y0.shape
    flops = 3 * 2 * b * do * ho * wo * a.filters * c * k ** 3
    print(json.dumps({
        "name": f"conv3d [{a.shape}]->{a.filters} k{k} s{s} {a.pad}",
        "backend": f"pytorch-{torch.__version__}-cpu({a.threads}t)",
        "ms": ms,
        "gflops": flops / (ms * 1e6),
    }))


if __name__ == "__main__":
    main()
