import { caseWeight } from '../../graph/sampling.js';
import type { SamplingKind, Vec3 } from '../../graph/types.js';
import type { PreprocessedCase, PreprocessedDataset } from '../data/types.js';
import type { Prng } from '../rng.js';

/**
 * Case and patch sampling for multi-dataset training. The case law (inverse_sqrt, uniform,
 * proportional) is defined once, in graph/sampling.ts.
 */

export { datasetShares } from '../../graph/sampling.js';

/** Draws training cases with the configured law, from each dataset's `train` ids only. */
export class CaseSampler {
  readonly cases: PreprocessedCase[];
  private readonly cumulative: Float64Array;

  constructor(datasets: readonly PreprocessedDataset[], kind: SamplingKind) {
    const cases: PreprocessedCase[] = [];
    const weights: number[] = [];
    for (const d of datasets) {
      const byId = new Map(d.cases.map((c) => [c.id, c]));
      const train = d.train.map((id) => {
        const c = byId.get(id);
        if (!c) throw new Error(`dataset '${d.name}': training case '${id}' is not among its preprocessed cases`);
        return c;
      });
      if (train.length === 0) continue;
      const w = caseWeight(kind, train.length);
      for (const c of train) {
        cases.push(c);
        weights.push(w);
      }
    }
    if (cases.length === 0) throw new Error(`no training cases in datasets ${datasets.map((d) => `'${d.name}'`).join(', ')}`);
    this.cases = cases;
    this.cumulative = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => {
      acc += w;
      this.cumulative[i] = acc;
    });
  }

  /** Probability of drawing each case (same order as `cases`). */
  probabilities(): number[] {
    const total = this.cumulative[this.cumulative.length - 1];
    return Array.from(this.cumulative, (c, i) => (c - (i > 0 ? this.cumulative[i - 1] : 0)) / total);
  }

  next(rng: Prng): PreprocessedCase {
    const total = this.cumulative[this.cumulative.length - 1];
    const u = rng.next() * total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return this.cases[lo];
  }
}

/** Python 3 `round` (half to even), which nnU-Net's oversampling rule uses. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (Math.abs(diff - 0.5) < 1e-12) return f % 2 === 0 ? f : f + 1;
  return Math.round(x);
}

/** nnU-Net: sample j of a batch of B is forced to contain foreground when j >= round(B * (1 - fraction)). */
export function isForcedForeground(j: number, batch: number, fraction: number): boolean {
  return j >= roundHalfEven(batch * (1 - fraction));
}

/**
 * Start corner of a patch (may be negative or run past the volume: those voxels are padding).
 * As nnU-Net: an axis smaller than the patch is padded evenly; random crops start uniformly in
 * [lb, ub]; a forced-foreground patch is centred on a stored voxel of a class picked uniformly among
 * the classes present in the case, clamped to [lb, ub]. When no class is present the crop is random.
 */
export function choosePatchStart(c: PreprocessedCase, patch: Vec3, forceForeground: boolean, rng: Prng): { start: Vec3; centredOn: string | null } {
  const lb: number[] = [];
  const ub: number[] = [];
  for (let a = 0; a < 3; a++) {
    const need = Math.max(patch[a] - c.shape[a], 0);
    lb.push(-Math.floor(need / 2));
    ub.push(c.shape[a] + Math.floor(need / 2) + (need % 2) - patch[a]);
  }
  if (forceForeground) {
    const present = Object.keys(c.classVoxels)
      .sort()
      .filter((k) => c.classVoxels[k].length > 0);
    if (present.length > 0) {
      const cls = present[rng.int(present.length)];
      const voxels = c.classVoxels[cls];
      const flat = voxels[rng.int(voxels.length)];
      const [, Y, X] = c.shape;
      const centre = [Math.floor(flat / (Y * X)), Math.floor(flat / X) % Y, flat % X];
      const start = [0, 1, 2].map((a) => Math.min(Math.max(centre[a] - Math.floor(patch[a] / 2), lb[a]), ub[a])) as Vec3;
      return { start, centredOn: cls };
    }
  }
  const start = [0, 1, 2].map((a) => rng.intBetween(lb[a], ub[a])) as Vec3;
  return { start, centredOn: null };
}

/** Copies the patch at `start` out of the case; voxels outside the volume are image 0, label 0. */
export function extractPatch(c: Pick<PreprocessedCase, 'image' | 'label' | 'shape'>, start: Vec3, patch: Vec3): { image: Float32Array; label: Uint8Array } {
  const [pz, py, px] = patch;
  const [Z, Y, X] = c.shape;
  const image = new Float32Array(pz * py * px);
  const label = new Uint8Array(pz * py * px);
  const x0 = Math.max(0, -start[2]);
  const x1 = Math.min(px, X - start[2]);
  if (x1 <= x0) return { image, label };
  for (let z = 0; z < pz; z++) {
    const sz = start[0] + z;
    if (sz < 0 || sz >= Z) continue;
    for (let y = 0; y < py; y++) {
      const sy = start[1] + y;
      if (sy < 0 || sy >= Y) continue;
      const src = (sz * Y + sy) * X + start[2];
      const dst = (z * py + y) * px;
      image.set(c.image.subarray(src + x0, src + x1), dst + x0);
      label.set(c.label.subarray(src + x0, src + x1), dst + x0);
    }
  }
  return { image, label };
}
