import type { HeadSpec, TrainParams, Vec3 } from '../../graph/types.js';
import { regionLut } from '../data/regions.js';
import type { PreprocessedDataset } from '../data/types.js';
import { Prng } from '../rng.js';
import { AugmentationPipeline } from './augment/pipeline.js';
import { CaseSampler, choosePatchStart, extractPatch, isForcedForeground } from './sampler.js';

/** The host-side arrays of a batch, before they become tensors (train/step.ts batchToTensors). */
export interface BatchArrays {
  /** [B, z, y, x, 1] */
  image: Float32Array;
  /** [B, z, y, x, heads] */
  targets: Float32Array;
  /** [B, heads] */
  mask: Float32Array;
  /** Case id of each sample. */
  cases: string[];
  /** The augmentation transforms that acted on each sample, in order. */
  applied: string[][];
}

/** Per head, a lookup table label value -> 1 when the value belongs to the head's region. */
export function regionTables(heads: readonly HeadSpec[]): Uint8Array[] {
  return heads.map((h) => {
    try {
      return regionLut(h.labels);
    } catch (err) {
      throw new Error(`head '${h.dataset}/${h.name}': ${(err as Error).message}`);
    }
  });
}

/**
 * Writes case `c`'s region targets and class mask for sample `b`: for each head of the case's own
 * dataset, target = label in head.labels and mask 1; heads of other datasets stay 0 (unannotated).
 */
function fillTargets(
  out: BatchArrays,
  b: number,
  label: Uint8Array,
  datasetOfCase: string,
  heads: readonly HeadSpec[],
  tables: readonly Uint8Array[],
): void {
  const H = heads.length;
  const n = label.length;
  const base = b * n * H;
  heads.forEach((h, k) => {
    if (h.dataset !== datasetOfCase) return;
    out.mask[b * H + k] = 1;
    const t = tables[k];
    for (let i = 0; i < n; i++) out.targets[base + i * H + k] = t[label[i]];
  });
}

/** Called before a sample's case is read and augmented (the loader reports it when a worker dies). */
export type CaseListener = (caseId: string, dataset: string) => void;

/**
 * Draws a batch: cases by the sampler, patches with nnU-Net's foreground oversampling, then the
 * augmentation pipeline (null: plain crops), all from `rng`.
 */
export function sampleBatchArrays(
  sampler: CaseSampler,
  heads: readonly HeadSpec[],
  tables: readonly Uint8Array[],
  patch: Vec3,
  batch: number,
  foregroundFraction: number,
  pipeline: AugmentationPipeline | null,
  rng: Prng,
  onCase?: CaseListener,
): BatchArrays {
  const n = patch[0] * patch[1] * patch[2];
  const out: BatchArrays = {
    image: new Float32Array(batch * n),
    targets: new Float32Array(batch * n * heads.length),
    mask: new Float32Array(batch * heads.length),
    cases: [],
    applied: [],
  };
  for (let b = 0; b < batch; b++) {
    const c = sampler.next(rng);
    onCase?.(c.id, c.dataset);
    const { start } = choosePatchStart(c, patch, isForcedForeground(b, batch, foregroundFraction), rng);
    const { patch: p, applied } = pipeline ? pipeline.sample(c, start, rng) : { patch: extractPatch(c, start, patch), applied: [] };
    out.image.set(p.image, b * n);
    fillTargets(out, b, p.label, c.dataset, heads, tables);
    out.cases.push(c.id);
    out.applied.push(applied);
  }
  return out;
}

/** What a batch depends on besides the data. */
export type BatchParams = Pick<TrainParams, 'seed' | 'heads' | 'architecture' | 'batch' | 'sampling' | 'augmentation'>;

/**
 * Batches as a pure function of (params.seed, batch index k, data): batch k draws its cases,
 * patches and augmentation from Prng.derive(seed, 'batch', k). Whoever computes batch k (the main
 * thread or any loader worker) gets the same arrays, and resuming at k needs nothing but k.
 */
export class BatchDrawer {
  readonly sampler: CaseSampler;
  private readonly tables: Uint8Array[];
  private readonly pipeline: AugmentationPipeline;

  constructor(
    datasets: readonly PreprocessedDataset[],
    readonly params: BatchParams,
  ) {
    this.sampler = new CaseSampler(datasets, params.sampling.kind);
    this.tables = regionTables(params.heads);
    this.pipeline = new AugmentationPipeline(params.augmentation, params.architecture.patch);
  }

  /** The generator of batch k. */
  static rngFor(seed: number, k: number): Prng {
    return Prng.derive(seed, 'batch', k);
  }

  draw(k: number, onCase?: CaseListener): BatchArrays {
    const p = this.params;
    return sampleBatchArrays(this.sampler, p.heads, this.tables, p.architecture.patch, p.batch, p.sampling.foregroundFraction, this.pipeline, BatchDrawer.rngFor(p.seed, k), onCase);
  }
}
