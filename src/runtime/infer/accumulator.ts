/**
 * Where sliding-window predictions are summed, and how much memory that may take (pure; no tfjs).
 *
 * Each voxel's probability is the Gaussian-weighted mean of the predictions of every tile (and fold)
 * that covers it. One `norm` array (float32) holds the summed weights; per class:
 * - `float32`: the weighted sum, divided by `norm` at the end (exactly nnU-Net's aggregation);
 * - `uint16`: the running weighted mean itself, stored as a 16-bit fixed-point fraction of 1
 *   (m <- m + (p - m) g / (W + g)), half the memory, error below 1e-4 (a probability is thresholded at 0.5).
 *
 * `planAccumulation` picks the most precise layout that fits the memory budget: every class in
 * float32, else every class in uint16, else the classes in groups that fit, one sliding-window pass per
 * group ("streaming per class": the network runs again for each group, memory stays bounded).
 */

export type AccumulatorPrecision = 'float32' | 'uint16';

const BYTES: Record<AccumulatorPrecision, number> = { float32: 4, uint16: 2 };
const U16 = 65535;

export interface AccumulationPlan {
  precision: AccumulatorPrecision;
  /** Indices into the requested classes, one group per sliding-window pass. */
  groups: number[][];
  /** Bytes of the class accumulators of one pass (the largest group). */
  accumulatorBytes: number;
  /** Bytes the caller said it needs besides the accumulators (padded image, norm, export buffers). */
  fixedBytes: number;
  budgetBytes: number;
}

export class MemoryBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryBudgetError';
  }
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * The accumulation layout for `classes` probability maps of `voxels` voxels each within
 * `budgetBytes`, of which `fixedBytes` are taken by other buffers. Throws MemoryBudgetError when not
 * even one class fits in uint16.
 */
export function planAccumulation(classes: number, voxels: number, budgetBytes: number, fixedBytes = 0): AccumulationPlan {
  if (!(classes >= 1)) throw new Error('planAccumulation: needs at least one class');
  const avail = budgetBytes - fixedBytes;
  const all = Array.from({ length: classes }, (_, i) => i);
  const fits = (p: AccumulatorPrecision, k: number) => k * voxels * BYTES[p] <= avail;
  const plan = (precision: AccumulatorPrecision, groups: number[][]): AccumulationPlan => ({
    precision,
    groups,
    accumulatorBytes: Math.max(...groups.map((g) => g.length)) * voxels * BYTES[precision],
    fixedBytes,
    budgetBytes,
  });
  if (fits('float32', classes)) return plan('float32', [all]);
  if (fits('uint16', classes)) return plan('uint16', [all]);
  const perPass = Math.floor(avail / (voxels * BYTES.uint16));
  if (perPass < 1) {
    const need = fixedBytes + voxels * BYTES.uint16;
    throw new MemoryBudgetError(
      `predicting this image needs at least ${formatBytes(need)} (one class at 16 bits over ${voxels} voxels plus ${formatBytes(fixedBytes)} of buffers), ` +
        `more than the memory budget of ${formatBytes(budgetBytes)}`,
    );
  }
  const groups: number[][] = [];
  for (let i = 0; i < classes; i += perPass) groups.push(all.slice(i, i + perPass));
  return plan('uint16', groups);
}

/**
 * Weighted-mean accumulators for `classes` maps over `voxels` voxels, interleaved (voxel-major, the
 * classes of a voxel side by side, like the network's channels-last output), so that adding a tile
 * streams through memory instead of touching one array per class.
 */
export class ProbabilityAccumulator {
  readonly norm: Float32Array;
  private readonly f32: Float32Array | null;
  private readonly u16: Uint16Array | null;

  constructor(
    readonly classes: number,
    readonly voxels: number,
    readonly precision: AccumulatorPrecision,
  ) {
    this.norm = new Float32Array(voxels);
    this.f32 = precision === 'float32' ? new Float32Array(classes * voxels) : null;
    this.u16 = precision === 'uint16' ? new Uint16Array(classes * voxels) : null;
  }

  /** Bytes held by the class accumulators (not counting `norm`). */
  get bytes(): number {
    return this.classes * this.voxels * BYTES[this.precision];
  }

  /**
   * Adds one prediction of a tile: `probs` is [tileVoxels, classes] (classes fastest) from element
   * `probsAt`, `weight` the importance map, `rows[r]` the volume index of the tile's row r start,
   * each row `rowLength` voxels long.
   */
  addTile(probs: Float32Array, probsAt: number, weight: Float32Array, rows: Int32Array, rowLength: number): void {
    const C = this.classes;
    const norm = this.norm;
    const f32 = this.f32;
    const u16 = this.u16;
    for (let r = 0; r < rows.length; r++) {
      const base = rows[r];
      for (let x = 0; x < rowLength; x++) {
        const local = r * rowLength + x;
        const g = weight[local];
        const v = base + x;
        const src = probsAt + local * C;
        const dst = v * C;
        if (f32) {
          norm[v] += g;
          for (let c = 0; c < C; c++) f32[dst + c] += probs[src + c] * g;
        } else if (u16) {
          const w = norm[v] + g;
          const f = g / w;
          norm[v] = w;
          for (let c = 0; c < C; c++) {
            const m = u16[dst + c] / U16;
            const next = m + (probs[src + c] - m) * f;
            u16[dst + c] = Math.round((next < 0 ? 0 : next > 1 ? 1 : next) * U16);
          }
        }
      }
    }
  }

  /** Class c's weighted mean at every voxel (a new array). */
  result(c: number): Float32Array {
    const out = new Float32Array(this.voxels);
    const C = this.classes;
    if (this.f32) {
      const a = this.f32;
      for (let i = 0; i < out.length; i++) out[i] = this.norm[i] > 0 ? a[i * C + c] / this.norm[i] : 0;
    } else if (this.u16) {
      const a = this.u16;
      for (let i = 0; i < out.length; i++) out[i] = a[i * C + c] / U16;
    }
    return out;
  }
}
