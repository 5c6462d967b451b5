/**
 * Separable filters along one axis of a C-ordered [z, y, x] volume, with mirrored edges (PyTorch's
 * 'reflect' padding, scipy's 'mirror': ... c b | a b c ... without repeating the edge voxel):
 * nnU-Net v2's Gaussian kernel (blur) and running-sum box filters (elastic deformation's smoothing).
 */
import type { Vec3 } from '../../../graph/types.js';
import { roundHalfEven } from '../sampler.js';

/** Index i reflected into [0, n) without repeating the edge (period 2(n - 1)). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/** batchgeneratorsv2's _round_to_nearest_odd (Python's round, half to even). */
function roundToNearestOdd(x: number): number {
  const r = roundHalfEven(x);
  if (Math.abs(r % 2) === 1) return r;
  return x - r >= 0 ? r + 1 : r - 1;
}

/** nnU-Net v2's blur kernel: odd size nearest to 6 sigma + 0.5 (about 3 sigma each side), normalised. */
export function gaussianKernel(sigma: number): Float64Array {
  const size = Math.max(1, roundToNearestOdd(sigma * 6 + 0.5));
  const half = (size - 1) / 2;
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - half;
    k[i] = Math.exp(-0.5 * (x / sigma) ** 2);
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

/** The volume as [outer, n, inner] for filtering along `axis`. */
function layout(shape: Vec3, axis: number): { outer: number; n: number; inner: number } {
  const [Z, Y, X] = shape;
  if (axis === 0) return { outer: 1, n: Z, inner: Y * X };
  if (axis === 1) return { outer: Z, n: Y, inner: X };
  return { outer: Z * Y, n: X, inner: 1 };
}

/** dst = src correlated with the odd-length `kernel` along `axis` (centred), mirrored edges. dst must not alias src. */
export function convolveAxis(src: Float32Array, dst: Float32Array, shape: Vec3, axis: number, kernel: Float64Array): void {
  const { outer, n, inner } = layout(shape, axis);
  const r = (kernel.length - 1) / 2;
  if (inner === 1) {
    const line = new Float64Array(n + 2 * r);
    for (let o = 0; o < outer; o++) {
      const base = o * n;
      for (let i = -r; i < n + r; i++) line[i + r] = src[base + reflectIndex(i, n)];
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < kernel.length; j++) acc += kernel[j] * line[i + j];
        dst[base + i] = acc;
      }
    }
    return;
  }
  // Whole rows (or planes) at a time: dst row i = sum over taps j of kernel[j] * src row i + j - r.
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const d = (o * n + i) * inner;
      const s0 = (o * n + reflectIndex(i - r, n)) * inner;
      const w0 = kernel[0];
      for (let q = 0; q < inner; q++) dst[d + q] = w0 * src[s0 + q];
      for (let j = 1; j < kernel.length; j++) {
        const w = kernel[j];
        const s = (o * n + reflectIndex(i + j - r, n)) * inner;
        for (let q = 0; q < inner; q++) dst[d + q] += w * src[s + q];
      }
    }
  }
}

/** dst = mean of src over a window of 2r + 1 along `axis` (running sums), mirrored edges. dst must not alias src. */
export function boxFilterAxis(src: Float32Array, dst: Float32Array, shape: Vec3, axis: number, r: number): void {
  const { outer, n, inner } = layout(shape, axis);
  const w = 2 * r + 1;
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const at = (i: number) => (o * n + reflectIndex(i, n)) * inner;
    acc.fill(0);
    for (let j = -r; j <= r; j++) {
      const s = at(j);
      for (let q = 0; q < inner; q++) acc[q] += src[s + q];
    }
    for (let i = 0; i < n; i++) {
      const d = (o * n + i) * inner;
      for (let q = 0; q < inner; q++) dst[d + q] = acc[q] / w;
      const add = at(i + r + 1);
      const drop = at(i - r);
      for (let q = 0; q < inner; q++) acc[q] += src[add + q] - src[drop + q];
    }
  }
}

/**
 * Box radii of three passes whose combination approximates a Gaussian of `sigma` (Kovesi's
 * boxes-for-Gauss: widths wl and wl + 2 mixed so that the variance is exactly sigma^2 where possible).
 */
export function boxRadiiForGaussian(sigma: number, passes = 3): number[] {
  if (sigma <= 0) return [];
  const ideal = Math.sqrt((12 * sigma * sigma) / passes + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - passes * wl * wl - 4 * passes * wl - 3 * passes) / (-4 * wl - 4));
  return Array.from({ length: passes }, (_, i) => ((i < m ? wl : wu) - 1) / 2);
}
