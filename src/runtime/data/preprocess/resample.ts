/**
 * Resampling of [z, y, x] volumes to a new grid, as nnU-Net v2 does it (`resample_data_or_seg`):
 *
 * - Coordinates follow scikit-image's `resize` (= `scipy.ndimage.zoom(grid_mode=True,
 *   mode='nearest')`): output voxel o samples input coordinate (o + 0.5) * n_in / n_out - 0.5.
 * - Images: order 0 (nearest), 1 (linear) or 3 (cubic B-spline: scipy's prefilter on the line
 *   padded by 12 edge values, exactly as scipy prepads for mode 'nearest'), then clipped to the input's
 *   range (skimage's `clip=True`). Tensor-product splines are separable, so the axes are done one at a
 *   time; the result equals scipy's up to float32 rounding of the intermediate passes.
 * - Labels: each present label's one-hot map is interpolated linearly, and a voxel takes the highest
 *   label whose value is >= 0.5 (nnU-Net's `resize_segmentation`); label values are never interpolated.
 *   Each label is resampled only over its bounding box, which gives the same result.
 * - Separate z (anisotropic data, see `planResampling`): the two in-plane axes first with the given
 *   order (clipping per slice, as nnU-Net resizes slice by slice), then the low-resolution axis with
 *   order 0 (nearest), for images and labels alike.
 */
import type { Vec3 } from '../../../graph/types.js';

/** Interpolation order for images: 0 nearest, 1 linear, 3 cubic spline (nnU-Net's default). */
export type InterpolationOrder = 0 | 1 | 3;

/** nnU-Net's new shape: round(shape * spacing / newSpacing) per axis, at least 1. */
export function targetShape(shape: Vec3, spacing: Vec3, newSpacing: Vec3): Vec3 {
  return shape.map((n, i) => Math.max(1, Math.round((n * spacing[i]) / newSpacing[i]))) as Vec3;
}

export interface ResamplePlan {
  newShape: Vec3;
  /** The low-resolution axis (0 = z, 1 = y, 2 = x) resampled separately with order 0, or null. */
  separateAxis: number | null;
}

/** nnU-Net's anisotropy threshold: max(spacing) / min(spacing) above it means "separate z". */
export const ANISOTROPY_THRESHOLD = 3;

function lowResAxes(spacing: Vec3): number[] {
  const max = Math.max(...spacing);
  return [0, 1, 2].filter((a) => max / spacing[a] === 1);
}

function anisotropic(spacing: Vec3, threshold: number): boolean {
  return Math.max(...spacing) / Math.min(...spacing) > threshold;
}

/**
 * nnU-Net's rule: separate z when the current spacing is anisotropic (axis: its coarsest), else when
 * the target spacing is (axis: the target's coarsest); not when two axes tie for coarsest.
 */
export function planResampling(shape: Vec3, spacing: Vec3, newSpacing: Vec3, threshold = ANISOTROPY_THRESHOLD): ResamplePlan {
  const newShape = targetShape(shape, spacing, newSpacing);
  let axes: number[] | null = null;
  if (anisotropic(spacing, threshold)) axes = lowResAxes(spacing);
  else if (anisotropic(newSpacing, threshold)) axes = lowResAxes(newSpacing);
  let separateAxis: number | null = null;
  if (axes) {
    if (axes.length === 3) separateAxis = 0;
    else if (axes.length === 1) separateAxis = axes[0];
  }
  return { newShape, separateAxis };
}

interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  w: Float32Array;
}

function axisTable(nIn: number, nOut: number, order: 0 | 1): AxisTable {
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
    } else {
      const f = Math.floor(c);
      i0[o] = f;
      i1[o] = Math.min(f + 1, nIn - 1);
      w[o] = c - f;
    }
  }
  return { i0, i1, w };
}

function identityTable(n: number): AxisTable {
  const i = Int32Array.from({ length: n }, (_, k) => k);
  return { i0: i, i1: i, w: new Float32Array(n) };
}

function isIdentity(t: AxisTable, len: number): boolean {
  return t.i0.length === len && t.w.every((v) => v === 0) && t.i0.every((v, k) => v === k);
}

/** Resamples along one axis of a volume viewed as [outer, len, inner] (inner contiguous), order 0/1. */
function resampleAxis(src: Float32Array, outer: number, len: number, inner: number, t: AxisTable): Float32Array {
  const nOut = t.i0.length;
  if (isIdentity(t, len)) return src;
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

/** scipy's prepadding for mode 'nearest' before the spline prefilter. */
const SPLINE_PAD = 12;
const POLE = Math.sqrt(3) - 2;
/** Doubles in the working block of a cubic pass (rows x columns), about 4 MiB. */
const BLOCK_DOUBLES = 1 << 19;

/**
 * In place: cubic B-spline prefilter along the rows of `buf` (n rows of `bw` columns), scipy's
 * algorithm (gain 6, causal/anticausal recursions with the pole sqrt(3) - 2, mirror-symmetric
 * "reflect" initialisation as scipy uses for mode 'nearest').
 */
function prefilterRows(buf: Float64Array, n: number, bw: number): void {
  const z = POLE;
  for (let i = 0; i < n * bw; i++) buf[i] *= 6;
  const zn = Math.pow(z, n);
  const scale = z / (1 - zn * zn);
  for (let j = 0; j < bw; j++) {
    const c0 = buf[j];
    let acc = c0 + zn * buf[(n - 1) * bw + j];
    let zi = z;
    for (let i = 1; i < n; i++) {
      acc += zi * (buf[i * bw + j] + zn * buf[(n - 1 - i) * bw + j]);
      zi *= z;
      if (Math.abs(zi) < 1e-30) break;
    }
    buf[j] = acc * scale + c0;
  }
  for (let i = 1; i < n; i++) {
    const r = i * bw;
    const p = r - bw;
    for (let j = 0; j < bw; j++) buf[r + j] += z * buf[p + j];
  }
  const last = (n - 1) * bw;
  const f = z / (z - 1);
  for (let j = 0; j < bw; j++) buf[last + j] *= f;
  for (let i = n - 2; i >= 0; i--) {
    const r = i * bw;
    const q = r + bw;
    for (let j = 0; j < bw; j++) buf[r + j] = z * (buf[q + j] - buf[r + j]);
  }
}

/** Cubic spline resampling along one axis of a volume viewed as [outer, len, inner]. */
function cubicAxis(src: Float32Array, outer: number, len: number, inner: number, nOut: number): Float32Array {
  if (nOut === len) return src;
  const n = len + 2 * SPLINE_PAD;
  const scale = len / nOut;
  const start = new Int32Array(nOut);
  const wts = new Float64Array(4 * nOut);
  for (let k = 0; k < nOut; k++) {
    const c = (k + 0.5) * scale - 0.5 + SPLINE_PAD;
    const f = Math.floor(c);
    const t = c - f;
    const u = 1 - t;
    start[k] = f - 1;
    wts[4 * k] = (u * u * u) / 6;
    wts[4 * k + 1] = (4 - 6 * t * t + 3 * t * t * t) / 6;
    wts[4 * k + 2] = (1 + 3 * t + 3 * t * t - 3 * t * t * t) / 6;
    wts[4 * k + 3] = (t * t * t) / 6;
  }
  const B = Math.max(1, Math.min(inner, Math.floor(BLOCK_DOUBLES / n)));
  const buf = new Float64Array(n * B);
  const dst = new Float32Array(outer * nOut * inner);
  for (let o = 0; o < outer; o++) {
    for (let j0 = 0; j0 < inner; j0 += B) {
      const bw = Math.min(B, inner - j0);
      for (let r = 0; r < n; r++) {
        const i = r < SPLINE_PAD ? 0 : r - SPLINE_PAD >= len ? len - 1 : r - SPLINE_PAD;
        const s = (o * len + i) * inner + j0;
        const d = r * bw;
        for (let j = 0; j < bw; j++) buf[d + j] = src[s + j];
      }
      prefilterRows(buf, n, bw);
      for (let k = 0; k < nOut; k++) {
        const b0 = start[k] * bw;
        const b1 = b0 + bw;
        const b2 = b1 + bw;
        const b3 = b2 + bw;
        const w0 = wts[4 * k];
        const w1 = wts[4 * k + 1];
        const w2 = wts[4 * k + 2];
        const w3 = wts[4 * k + 3];
        const d = (o * nOut + k) * inner + j0;
        for (let j = 0; j < bw; j++) dst[d + j] = w0 * buf[b0 + j] + w1 * buf[b1 + j] + w2 * buf[b2 + j] + w3 * buf[b3 + j];
      }
    }
  }
  return dst;
}

/** [outer, len, inner] view of axis a (0 = z, 1 = y, 2 = x) of a [z, y, x] shape. */
function view(shape: Vec3, a: number): [number, number, number] {
  if (a === 0) return [1, shape[0], shape[1] * shape[2]];
  if (a === 1) return [shape[0], shape[1], shape[2]];
  return [shape[0] * shape[1], shape[2], 1];
}

/** Resamples one axis with the given order; returns the new array (or the input when nothing changes). */
function resampleOneAxis(data: Float32Array, shape: Vec3, a: number, nOut: number, order: InterpolationOrder): Float32Array {
  const [outer, len, inner] = view(shape, a);
  if (order === 3) return cubicAxis(data, outer, len, inner, nOut);
  return resampleAxis(data, outer, len, inner, axisTable(len, nOut, order));
}

/** Per-slice (along axis a) minimum and maximum. */
function sliceRanges(data: Float32Array, shape: Vec3, a: number): { lo: Float32Array; hi: Float32Array } {
  const [outer, len, inner] = view(shape, a);
  const lo = new Float32Array(len).fill(Infinity);
  const hi = new Float32Array(len).fill(-Infinity);
  for (let o = 0; o < outer; o++) {
    for (let s = 0; s < len; s++) {
      const b = (o * len + s) * inner;
      let l = lo[s];
      let h = hi[s];
      for (let e = 0; e < inner; e++) {
        const v = data[b + e];
        if (v < l) l = v;
        if (v > h) h = v;
      }
      lo[s] = l;
      hi[s] = h;
    }
  }
  return { lo, hi };
}

function clipSlices(data: Float32Array, shape: Vec3, a: number, lo: Float32Array, hi: Float32Array): void {
  const [outer, len, inner] = view(shape, a);
  for (let o = 0; o < outer; o++) {
    for (let s = 0; s < len; s++) {
      const b = (o * len + s) * inner;
      const l = lo[s];
      const h = hi[s];
      for (let e = 0; e < inner; e++) {
        const v = data[b + e];
        data[b + e] = v < l ? l : v > h ? h : v;
      }
    }
  }
}

export interface ResampleOptions {
  /** Separate-z: resample this axis last with order 0 (see planResampling); null/absent: all axes alike. */
  separateAxis?: number | null;
}

/**
 * Resamples a [z, y, x] float volume from `shape` to `newShape` with the given order (default 1).
 * Never modifies `data`; may return it when the shape does not change.
 */
export function resampleImage(data: Float32Array, shape: Vec3, newShape: Vec3, order: InterpolationOrder = 1, options: ResampleOptions = {}): Float32Array {
  const [nz, ny, nx] = shape;
  if (data.length !== nz * ny * nx) throw new Error(`resampleImage: data holds ${data.length} voxels, shape ${shape.join('x')} needs ${nz * ny * nx}`);
  if (shape.every((s, i) => s === newShape[i])) return data;
  const sep = options.separateAxis ?? null;
  const axes = sep === null ? [2, 1, 0] : [2, 1, 0].filter((a) => a !== sep);
  let ranges: { lo: Float32Array; hi: Float32Array } | null = null;
  let globalLo = Infinity;
  let globalHi = -Infinity;
  if (order === 3) {
    if (sep !== null) ranges = sliceRanges(data, shape, sep);
    else for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < globalLo) globalLo = v;
      if (v > globalHi) globalHi = v;
    }
  }
  let cur = data;
  const curShape: Vec3 = [...shape];
  for (const a of axes) {
    cur = resampleOneAxis(cur, curShape, a, newShape[a], order);
    curShape[a] = newShape[a];
  }
  if (order === 3 && cur !== data) {
    if (ranges && sep !== null) clipSlices(cur, curShape, sep, ranges.lo, ranges.hi);
    else for (let i = 0; i < cur.length; i++) cur[i] = cur[i] < globalLo ? globalLo : cur[i] > globalHi ? globalHi : cur[i];
  }
  if (sep !== null) cur = resampleOneAxis(cur, curShape, sep, newShape[sep], 0);
  return cur === data ? Float32Array.from(data) : cur;
}

/** [start, end) of the voxels holding `value` per axis [z, y, x], or null when absent. */
function labelBox(label: Uint8Array, shape: Vec3, value: number): { s: Vec3; e: Vec3 } | null {
  const [nz, ny, nx] = shape;
  const s: Vec3 = [nz, ny, nx];
  const e: Vec3 = [-1, -1, -1];
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) {
        if (label[row + x] !== value) continue;
        if (z < s[0]) s[0] = z;
        if (z > e[0]) e[0] = z;
        if (y < s[1]) s[1] = y;
        if (y > e[1]) e[1] = y;
        if (x < s[2]) s[2] = x;
        if (x > e[2]) e[2] = x;
      }
    }
  }
  if (e[0] < 0) return null;
  return { s, e: [e[0] + 1, e[1] + 1, e[2] + 1] };
}

/**
 * Linear (or identity) resampling of one label's one-hot map restricted to the output block its
 * bounding box can reach; writes `value` where the interpolated map is >= 0.5.
 */
function resampleOneHot(label: Uint8Array, shape: Vec3, value: number, tables: AxisTable[], out: Uint8Array, outShape: Vec3): void {
  const box = labelBox(label, shape, value);
  if (!box) return;
  const oLo: number[] = [];
  const oHi: number[] = [];
  const iLo: number[] = [];
  const iHi: number[] = [];
  for (let a = 0; a < 3; a++) {
    const t = tables[a];
    const n = t.i0.length;
    let lo = 0;
    while (lo < n && t.i1[lo] < box.s[a]) lo++;
    let hi = n;
    while (hi > lo && t.i0[hi - 1] > box.e[a] - 1) hi--;
    if (hi <= lo) return;
    oLo.push(lo);
    oHi.push(hi);
    iLo.push(t.i0[lo]);
    iHi.push(t.i1[hi - 1] + 1);
  }
  const sub: Vec3 = [iHi[0] - iLo[0], iHi[1] - iLo[1], iHi[2] - iLo[2]];
  let cur: Float32Array = new Float32Array(sub[0] * sub[1] * sub[2]);
  let k = 0;
  for (let z = iLo[0]; z < iHi[0]; z++) {
    for (let y = iLo[1]; y < iHi[1]; y++) {
      const row = (z * shape[1] + y) * shape[2];
      for (let x = iLo[2]; x < iHi[2]; x++) cur[k++] = label[row + x] === value ? 1 : 0;
    }
  }
  const curShape: Vec3 = [...sub];
  for (const a of [2, 1, 0]) {
    const t = tables[a];
    const m = oHi[a] - oLo[a];
    const local: AxisTable = {
      i0: Int32Array.from(t.i0.subarray(oLo[a], oHi[a]), (v) => v - iLo[a]),
      i1: Int32Array.from(t.i1.subarray(oLo[a], oHi[a]), (v) => v - iLo[a]),
      w: t.w.subarray(oLo[a], oHi[a]),
    };
    const [outer, len, inner] = view(curShape, a);
    cur = resampleAxis(cur, outer, len, inner, local);
    curShape[a] = m;
  }
  k = 0;
  for (let z = 0; z < curShape[0]; z++) {
    for (let y = 0; y < curShape[1]; y++) {
      const row = ((z + oLo[0]) * outShape[1] + (y + oLo[1])) * outShape[2] + oLo[2];
      for (let x = 0; x < curShape[2]; x++, k++) if (cur[k] >= 0.5) out[row + x] = value;
    }
  }
}

/** Resamples a label map by linear interpolation of each present label's one-hot map (see module doc). */
export function resampleLabel(label: Uint8Array, shape: Vec3, newShape: Vec3, options: ResampleOptions = {}): Uint8Array {
  if (shape.every((s, i) => s === newShape[i])) return Uint8Array.from(label);
  const sep = options.separateAxis ?? null;
  const planeShape: Vec3 = [0, 1, 2].map((a) => (a === sep ? shape[a] : newShape[a])) as Vec3;
  const tables = [0, 1, 2].map((a) => (a === sep ? identityTable(shape[a]) : axisTable(shape[a], newShape[a], 1)));
  const present = new Uint8Array(256);
  for (let i = 0; i < label.length; i++) present[label[i]] = 1;
  let out = new Uint8Array(planeShape[0] * planeShape[1] * planeShape[2]);
  // ascending values: a higher label overwrites a lower one where both reach 0.5 (nnU-Net's order)
  for (let value = 1; value < 256; value++) if (present[value]) resampleOneHot(label, shape, value, tables, out, planeShape);
  if (sep !== null && planeShape[sep] !== newShape[sep]) {
    const [outer, len, inner] = view(planeShape, sep);
    const t = axisTable(len, newShape[sep], 0);
    const dst = new Uint8Array(outer * newShape[sep] * inner);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < newShape[sep]; k++) {
        const a = (o * len + t.i0[k]) * inner;
        dst.set(out.subarray(a, a + inner), (o * newShape[sep] + k) * inner);
      }
    }
    out = dst;
  }
  return out;
}
