/**
 * nnU-Net's CT normalisation: foreground (label > 0) intensities sampled per case with a fixed seed,
 * pooled, summarised (mean, std, 0.5 and 99.5 percentiles); images are clipped to the percentiles and
 * z-scored with max(std, 1e-8).
 */
import { type Rng, randInt } from '../../rng.js';

export interface CtStats {
  mean: number;
  std: number;
  p005: number;
  p995: number;
  /** Number of sampled voxels the statistics come from. */
  samples: number;
}

/**
 * `count` foreground intensities drawn with replacement (like nnU-Net, every case contributes the same
 * number whatever its foreground size); empty when the case has no foreground.
 */
export function sampleForeground(image: Float32Array, label: Uint8Array, count: number, rng: Rng): Float32Array {
  let fg = 0;
  for (let i = 0; i < label.length; i++) if (label[i] > 0) fg++;
  if (fg === 0 || count <= 0) return new Float32Array(0);
  const values = new Float32Array(fg);
  let k = 0;
  for (let i = 0; i < label.length; i++) if (label[i] > 0) values[k++] = image[i];
  const out = new Float32Array(count);
  for (let s = 0; s < count; s++) out[s] = values[randInt(rng, fg)];
  return out;
}

/** Linear-interpolated percentile of sorted values (numpy's default method). */
export function percentileSorted(sorted: Float32Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The k-th smallest value (0-based) of `a`, reordering `a` in place: quickselect with a
 * median-of-three pivot, O(n) on average (sorting ten million samples takes seconds).
 */
export function selectKth(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three to a[mid]
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

function swap(a: Float32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** Linear-interpolated percentile (numpy's default method) by selection; reorders `values`. */
export function percentile(values: Float32Array, q: number): number {
  if (values.length === 0) return NaN;
  const pos = (q / 100) * (values.length - 1);
  const lo = Math.floor(pos);
  const a = selectKth(values, lo);
  if (pos === lo || lo + 1 >= values.length) return a;
  // after selecting lo, everything right of it is >= a[lo]: the next order statistic is their minimum
  let b = Infinity;
  for (let i = lo + 1; i < values.length; i++) if (values[i] < b) b = values[i];
  return a + (pos - lo) * (b - a);
}

/** Statistics of pooled samples (population std, as numpy's default). Null when there are none. */
export function ctStats(parts: Float32Array[]): CtStats | null {
  const n = parts.reduce((s, p) => s + p.length, 0);
  if (n === 0) return null;
  const all = new Float32Array(n);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += all[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (all[i] - mean) * (all[i] - mean);
  return { mean, std: Math.sqrt(ss / n), p005: percentile(all, 0.5), p995: percentile(all, 99.5), samples: n };
}

/** In place: clip to [p005, p995], then (x - mean) / max(std, 1e-8). */
export function applyCtNormalization(image: Float32Array, stats: CtStats): Float32Array {
  const lo = stats.p005;
  const hi = stats.p995;
  const mean = stats.mean;
  const inv = 1 / Math.max(stats.std, 1e-8);
  for (let i = 0; i < image.length; i++) {
    const v = image[i] < lo ? lo : image[i] > hi ? hi : image[i];
    image[i] = (v - mean) * inv;
  }
  return image;
}
