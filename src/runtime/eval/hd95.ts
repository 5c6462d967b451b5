/**
 * The 95th-percentile Hausdorff distance (HD95) in mm, with this project's convention (the report
 * states it):
 *
 * - a mask's surface is its voxels that have a 6-neighbour outside the mask; voxels outside the
 *   volume count as outside;
 * - from every surface voxel of one mask, the Euclidean distance (voxel spacing applied) to the
 *   nearest surface voxel of the other mask, in both directions;
 * - HD95 is the larger of the two directed 95th percentiles, each with linear interpolation (numpy's
 *   default `np.percentile`);
 * - NaN when both masks are empty, +Infinity when exactly one is.
 *
 * Distances come from an exact Euclidean distance transform (Felzenszwalb and Huttenlocher's lower
 * envelope of parabolas, one axis at a time, with anisotropic spacing) over the bounding box of the
 * two masks, which holds every surface voxel, so restricting to it changes nothing.
 */
import type { Vec3 } from '../../graph/types.js';
import { boxShape, cropToBox, nonzeroBoundingBox } from '../data/preprocess/crop.js';

/** Surface voxels (see the module doc): 1 where the voxel is in the mask and a 6-neighbour is not. */
export function surfaceVoxels(mask: Uint8Array, shape: Vec3): Uint8Array {
  const [nz, ny, nx] = shape;
  const out = new Uint8Array(mask.length);
  const inside = (z: number, y: number, x: number) => z >= 0 && z < nz && y >= 0 && y < ny && x >= 0 && x < nx && mask[(z * ny + y) * nx + x] !== 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        if (!mask[i]) continue;
        if (!inside(z - 1, y, x) || !inside(z + 1, y, x) || !inside(z, y - 1, x) || !inside(z, y + 1, x) || !inside(z, y, x - 1) || !inside(z, y, x + 1)) out[i] = 1;
      }
  return out;
}

const FAR = Number.POSITIVE_INFINITY;

/** One line of the squared distance transform with sample spacing s (lower envelope of parabolas). */
function edtLine(f: Float64Array, n: number, s: number, out: Float64Array, v: Int32Array, zz: Float64Array): void {
  const s2 = s * s;
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === FAR) continue;
    let x = -Infinity;
    while (k >= 0) {
      const p = v[k];
      x = (fq + s2 * q * q - (f[p] + s2 * p * p)) / (2 * s2 * (q - p));
      if (x <= zz[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    zz[k] = k === 0 ? -Infinity : x;
    zz[k + 1] = Infinity;
  }
  if (k < 0) {
    out.fill(FAR, 0, n);
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (zz[k + 1] < q) k++;
    const d = q - v[k];
    out[q] = s2 * d * d + f[v[k]];
  }
}

/** Squared Euclidean distance (mm^2) from every voxel to the nearest voxel where `features` is set. */
export function squaredDistanceTransform(features: Uint8Array, shape: Vec3, spacing: Vec3): Float64Array {
  const [nz, ny, nx] = shape;
  const g = new Float64Array(features.length);
  for (let i = 0; i < g.length; i++) g[i] = features[i] ? 0 : FAR;
  const maxN = Math.max(nz, ny, nx);
  const line = new Float64Array(maxN);
  const res = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const zz = new Float64Array(maxN + 1);
  // x (fastest), then y, then z
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) {
      const base = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) line[x] = g[base + x];
      edtLine(line, nx, spacing[2], res, v, zz);
      for (let x = 0; x < nx; x++) g[base + x] = res[x];
    }
  for (let z = 0; z < nz; z++)
    for (let x = 0; x < nx; x++) {
      for (let y = 0; y < ny; y++) line[y] = g[(z * ny + y) * nx + x];
      edtLine(line, ny, spacing[1], res, v, zz);
      for (let y = 0; y < ny; y++) g[(z * ny + y) * nx + x] = res[y];
    }
  for (let y = 0; y < ny; y++)
    for (let x = 0; x < nx; x++) {
      for (let z = 0; z < nz; z++) line[z] = g[(z * ny + y) * nx + x];
      edtLine(line, nz, spacing[0], res, v, zz);
      for (let z = 0; z < nz; z++) g[(z * ny + y) * nx + x] = res[z];
    }
  return g;
}

/** numpy's default percentile (linear interpolation between order statistics) of `values` (sorted in place). */
export function percentileLinear(values: Float64Array, q: number): number {
  if (values.length === 0) return NaN;
  values.sort();
  const pos = (q / 100) * (values.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, values.length - 1);
  return values[lo] + (pos - lo) * (values[hi] - values[lo]);
}

/** Distances (mm) from each surface voxel of `from` to the nearest surface voxel of `to`. */
function directed(from: Uint8Array, toDist2: Float64Array): Float64Array {
  let n = 0;
  for (let i = 0; i < from.length; i++) if (from[i]) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < from.length; i++) if (from[i]) out[k++] = Math.sqrt(toDist2[i]);
  return out;
}

/** HD95 (mm) of two binary masks on one grid with voxel `spacing` [z, y, x]; see the module doc. */
export function hd95(pred: Uint8Array, ref: Uint8Array, shape: Vec3, spacing: Vec3): number {
  const n = shape[0] * shape[1] * shape[2];
  if (pred.length !== n || ref.length !== n) throw new Error(`hd95: masks of ${pred.length} and ${ref.length} voxels for shape ${shape.join('x')}`);
  let anyP = false;
  let anyR = false;
  for (let i = 0; i < n && !(anyP && anyR); i++) {
    if (pred[i]) anyP = true;
    if (ref[i]) anyR = true;
  }
  if (!anyP && !anyR) return NaN;
  if (anyP !== anyR) return Infinity;
  const union = new Uint8Array(n);
  for (let i = 0; i < n; i++) union[i] = pred[i] || ref[i] ? 1 : 0;
  const box = nonzeroBoundingBox(union, shape);
  const inner = boxShape(box);
  const p = cropToBox(pred, shape, box);
  const r = cropToBox(ref, shape, box);
  const sp = surfaceVoxels(p, inner);
  const sr = surfaceVoxels(r, inner);
  const toR = squaredDistanceTransform(sr, inner, spacing);
  const toP = squaredDistanceTransform(sp, inner, spacing);
  return Math.max(percentileLinear(directed(sp, toR), 95), percentileLinear(directed(sr, toP), 95));
}
