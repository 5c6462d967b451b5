/**
 * Resampling of [z, y, x] volumes to a new grid. Coordinates follow scikit-image's `resize` (which
 * nnU-Net uses): voxel centres map as in = (out + 0.5) * n_in / n_out - 0.5, edges replicated.
 * Images: order 0 (nearest) or 1 (trilinear, separable). Labels: each label's one-hot map is
 * interpolated linearly and a voxel takes the label whose value is largest and at least 0.5, else
 * background (nnU-Net's segmentation resampling) — label values are never interpolated themselves.
 */
import type { Vec3 } from '../../graph/types.js';

/** Interpolation order for images: 0 nearest, 1 linear. (Cubic, nnU-Net's default, is not implemented yet.) */
export type InterpolationOrder = 0 | 1;

/** nnU-Net's new shape: round(shape * spacing / newSpacing) per axis, at least 1. */
export function targetShape(shape: Vec3, spacing: Vec3, newSpacing: Vec3): Vec3 {
  return shape.map((n, i) => Math.max(1, Math.round((n * spacing[i]) / newSpacing[i]))) as Vec3;
}

interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  w: Float32Array;
}

function axisTable(nIn: number, nOut: number, order: InterpolationOrder): AxisTable {
  const i0 = new Int32Array(nOut);
  const i1 = new Int32Array(nOut);
  const w = new Float32Array(nOut);
  const scale = nIn / nOut;
  for (let o = 0; o < nOut; o++) {
    let c = (o + 0.5) * scale - 0.5;
    if (c < 0) c = 0;
    if (c > nIn - 1) c = nIn - 1;
    if (order === 0) {
      const k = Math.min(nIn - 1, Math.floor(c + 0.5));
      i0[o] = k;
      i1[o] = k;
      w[o] = 0;
    } else {
      const f = Math.floor(c);
      i0[o] = f;
      i1[o] = Math.min(f + 1, nIn - 1);
      w[o] = c - f;
    }
  }
  return { i0, i1, w };
}

/**
 * Resamples along one axis of a volume viewed as [outer, len, inner] (inner contiguous).
 */
function resampleAxis(src: Float32Array, outer: number, len: number, inner: number, nOut: number, t: AxisTable): Float32Array {
  if (nOut === len && t.w.every((v) => v === 0) && t.i0.every((v, k) => v === k)) return src;
  const dst = new Float32Array(outer * nOut * inner);
  for (let o = 0; o < outer; o++) {
    const sb = o * len * inner;
    const db = o * nOut * inner;
    for (let k = 0; k < nOut; k++) {
      const a = sb + t.i0[k] * inner;
      const b = sb + t.i1[k] * inner;
      const w = t.w[k];
      const d = db + k * inner;
      if (w === 0) {
        for (let e = 0; e < inner; e++) dst[d + e] = src[a + e];
      } else {
        const v = 1 - w;
        for (let e = 0; e < inner; e++) dst[d + e] = v * src[a + e] + w * src[b + e];
      }
    }
  }
  return dst;
}

/** Resamples a [z, y, x] float volume from `shape` to `newShape` (separable; x, then y, then z). */
export function resampleImage(data: Float32Array, shape: Vec3, newShape: Vec3, order: InterpolationOrder = 1): Float32Array {
  const [nz, ny, nx] = shape;
  const [mz, my, mx] = newShape;
  if (data.length !== nz * ny * nx) throw new Error(`resampleImage: data holds ${data.length} voxels, shape ${shape.join('x')} needs ${nz * ny * nx}`);
  let cur = resampleAxis(data, nz * ny, nx, 1, mx, axisTable(nx, mx, order));
  cur = resampleAxis(cur, nz, ny, mx, my, axisTable(ny, my, order));
  cur = resampleAxis(cur, 1, nz, my * mx, mz, axisTable(nz, mz, order));
  return cur === data ? Float32Array.from(data) : cur;
}

/** Resamples a label map by linear interpolation of each present label's one-hot map (see module doc). */
export function resampleLabel(label: Uint8Array, shape: Vec3, newShape: Vec3): Uint8Array {
  const present = new Uint8Array(256);
  for (const v of label) present[v] = 1;
  const n = newShape[0] * newShape[1] * newShape[2];
  const out = new Uint8Array(n);
  const best = new Float32Array(n);
  const onehot = new Float32Array(label.length);
  for (let value = 1; value < 256; value++) {
    if (!present[value]) continue;
    for (let i = 0; i < label.length; i++) onehot[i] = label[i] === value ? 1 : 0;
    const m = resampleImage(onehot, shape, newShape, 1);
    for (let i = 0; i < n; i++) {
      // ascending values with >=: on an exact tie the higher label wins, as in nnU-Net's overwrite order
      if (m[i] >= 0.5 && m[i] >= best[i]) {
        best[i] = m[i];
        out[i] = value;
      }
    }
  }
  return out;
}
