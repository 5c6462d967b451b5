#!/usr/bin/env python3
"""Reference preprocessing with nnU-Net's own libraries (nibabel, numpy, scipy, scikit-image).

Re-implements nnU-Net v2's default resampling (resample_data_or_seg: skimage.transform.resize with
mode='edge', anti_aliasing=False for images, one-hot resize for segmentations, and the "separate z"
path with scipy.ndimage.map_coordinates order 0 along the low-resolution axis) so that multitalent's
TypeScript implementation can be checked and timed against it. Arrays are [z, y, x] (nibabel's
[x, y, z] transposed), like nnU-Net's NibabelIO.

  resample IMAGE OUT.bin --spacing Z Y X --order K [--seg] [--no-separate-z]
      writes the resampled volume as raw float32 (uint8 with --seg), prints {"shape": [...]} as JSON
  bench IMAGE LABEL --spacing Z Y X [--repeat N]
      crop to nonzero, CT-normalise (stats from the label's foreground), resample image (order 3)
      and label (order 1); prints voxels/s and peak RSS as JSON
  synth OUT_IMAGE OUT_LABEL --shape Z Y X --spacing Z Y X
      writes a synthetic CT volume and label with nibabel (for the 512x512x200 benchmark)
"""
import argparse
import json
import resource
import sys
import time

import nibabel as nib
import numpy as np
from scipy.ndimage import map_coordinates
from skimage.transform import resize

ANISO_THRESHOLD = 3


def load_zyx(path):
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    if img.header.get_slope_inter() != (None, None):
        data = img.get_fdata(dtype=np.float32)
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    return np.ascontiguousarray(data.transpose(2, 1, 0)), zooms[::-1]


def new_shape_of(shape, spacing, new_spacing):
    return [int(round(s * sp / nsp)) for s, sp, nsp in zip(shape, spacing, new_spacing)]


def lowres_axis(spacing):
    spacing = np.array(spacing)
    return np.where(max(spacing) / spacing == 1)[0]


def separate_axis(spacing, new_spacing):
    if max(spacing) / min(spacing) > ANISO_THRESHOLD:
        axis = lowres_axis(spacing)
    elif max(new_spacing) / min(new_spacing) > ANISO_THRESHOLD:
        axis = lowres_axis(new_spacing)
    else:
        return None
    if len(axis) == 3:
        return 0
    if len(axis) == 2:
        return None
    return int(axis[0])


def resize_segmentation(seg, new_shape, order):
    out = np.zeros(new_shape, dtype=seg.dtype)
    for c in np.unique(seg):
        m = resize((seg == c).astype(float), new_shape, order, mode="edge", clip=True, anti_aliasing=False)
        out[m >= 0.5] = c
    return out


def resample(data, new_shape, is_seg, order, axis):
    """nnU-Net v2 resample_data_or_seg for one channel (order_z = 0)."""
    shape = np.array(data.shape)
    new_shape = np.array(new_shape)
    if np.all(shape == new_shape):
        return data
    fn = resize_segmentation if is_seg else (lambda d, s, o: resize(d, s, o, mode="edge", anti_aliasing=False))
    data = data.astype(float) if not is_seg else data
    if axis is None:
        return fn(data, tuple(new_shape), order)
    plane = [s for a, s in enumerate(new_shape) if a != axis]
    tmp = list(new_shape)
    tmp[axis] = shape[axis]
    here = np.zeros(tmp, dtype=data.dtype)
    for s in range(shape[axis]):
        idx = [slice(None)] * 3
        idx[axis] = s
        here[tuple(idx)] = fn(data[tuple(idx)], plane, order)
    if shape[axis] == new_shape[axis]:
        return here
    scales = [float(h) / n for h, n in zip(here.shape, new_shape)]
    grid = np.mgrid[: new_shape[0], : new_shape[1], : new_shape[2]].astype(float)
    coords = np.array([sc * (g + 0.5) - 0.5 for sc, g in zip(scales, grid)])
    return map_coordinates(here, coords, order=0, mode="nearest")


def crop_nonzero(image, label):
    nz = np.nonzero(image != 0)
    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in nz)
    return image[box], label[box]


def cmd_resample(a):
    data, spacing = load_zyx(a.image)
    new_shape = new_shape_of(data.shape, spacing, a.spacing)
    axis = None if a.no_separate_z else separate_axis(spacing, a.spacing)
    out = resample(data.astype(np.uint8) if a.seg else data, new_shape, a.seg, a.order, axis)
    (out.astype(np.uint8) if a.seg else out.astype(np.float32)).tofile(a.out)
    print(json.dumps({"shape": [int(s) for s in out.shape], "separate_axis": axis}))


def cmd_bench(a):
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        image, spacing = load_zyx(a.image)
        label, _ = load_zyx(a.label)
        image = image.astype(np.float32)
        voxels = image.size
        image, label = crop_nonzero(image, label)
        fg = image[label > 0]
        rng = np.random.RandomState(1234)
        sample = fg[rng.randint(0, len(fg), 10000)] if len(fg) else image.ravel()[:1]
        lo, hi = np.percentile(sample, [0.5, 99.5])
        mean, std = sample.mean(), sample.std()
        image = (np.clip(image, lo, hi) - mean) / max(std, 1e-8)
        new_shape = new_shape_of(image.shape, spacing, a.spacing)
        axis = separate_axis(spacing, a.spacing)
        out_i = resample(image, new_shape, False, 3, axis).astype(np.float32)
        out_l = resample(label.astype(np.uint8), new_shape, True, 1, axis)
        times.append(time.perf_counter() - t0)
        del out_i, out_l
    med = float(np.median(times))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"voxels": int(voxels), "seconds": times, "median_s": med, "voxels_per_s": voxels / med, "peak_rss_mb": peak_mb}))


def cmd_synth(a):
    z, y, x = a.shape
    rng = np.random.RandomState(7)
    zz, yy, xx = np.ogrid[:z, :y, :x]
    body = ((yy - y / 2) / (0.42 * y)) ** 2 + ((xx - x / 2) / (0.45 * x)) ** 2 < 1
    organ = ((yy - y * 0.45) / (0.12 * y)) ** 2 + ((xx - x * 0.35) / (0.14 * x)) ** 2 + ((zz - z / 2) / (0.3 * z)) ** 2 < 1
    img = np.full((z, y, x), -1024, np.int16)
    body = np.broadcast_to(body, (z, y, x))
    img[body] = (40 + rng.normal(0, 20, int(body.sum()))).astype(np.int16)
    img[organ] = (120 + rng.normal(0, 15, int(organ.sum()))).astype(np.int16)
    lab = organ.astype(np.uint8)
    aff = np.diag([a.spacing[2], a.spacing[1], a.spacing[0], 1.0])
    nib.save(nib.Nifti1Image(img.transpose(2, 1, 0), aff), a.out_image)
    nib.save(nib.Nifti1Image(lab.transpose(2, 1, 0), aff), a.out_label)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("resample")
    r.add_argument("image")
    r.add_argument("out")
    r.add_argument("--spacing", type=float, nargs=3, required=True)
    r.add_argument("--order", type=int, default=3)
    r.add_argument("--seg", action="store_true")
    r.add_argument("--no-separate-z", action="store_true")
    b = sub.add_parser("bench")
    b.add_argument("image")
    b.add_argument("label")
    b.add_argument("--spacing", type=float, nargs=3, required=True)
    b.add_argument("--repeat", type=int, default=3)
    s = sub.add_parser("synth")
    s.add_argument("out_image")
    s.add_argument("out_label")
    s.add_argument("--shape", type=int, nargs=3, required=True)
    s.add_argument("--spacing", type=float, nargs=3, required=True)
    a = p.parse_args()
    {"resample": cmd_resample, "bench": cmd_bench, "synth": cmd_synth}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
