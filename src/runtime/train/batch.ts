import { outputChannels, outputLayoutFor } from '../../graph/outputs.js';
import type { HeadSpec, TrainParams, Vec3 } from '../../graph/types.js';
import { outputTargetLuts, regionLut } from '../data/regions.js';
import type { PreprocessedDataset } from '../data/types.js';
import { Prng } from '../rng.js';
import { AugmentationPipeline } from './augment/pipeline.js';
import { CaseSampler, choosePatchStart, extractPatch, isForcedForeground } from './sampler.js';

/**
 * The host-side arrays of a batch, before they become tensors (train/step.ts batchToTensors). The
 * region targets [B, z, y, x, heads] are not materialised here (47 heads at the paper's patch would
 * be 2.6 GB per batch): they are `regions[b * 256 + labels[b, voxel], head]`, a gather that
 * batchToTensors does on the backend.
 */
export interface BatchArrays {
  /** [B, z, y, x, 1] */
  image: Float32Array;
  /** [B, z, y, x]: each sample's own label values (after augmentation). */
  labels: Uint8Array;
  /**
   * [B * 256, heads]: row b * 256 + v is 1 for each head whose region contains label value v of
   * sample b's dataset; heads of other datasets are 0 (unannotated).
   */
  regions: Float32Array;
  /** [B, heads]: 1 when the head belongs to the sample's dataset. */
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
 * Sample b's class mask and region table: for each head of the case's own dataset, mask 1 and the
 * head's label values; heads of other datasets stay 0 (unannotated).
 */
function fillRegions(out: BatchArrays, b: number, datasetOfCase: string, heads: readonly HeadSpec[], tables: readonly Uint8Array[]): void {
  const H = heads.length;
  heads.forEach((h, k) => {
    if (h.dataset !== datasetOfCase) return;
    out.mask[b * H + k] = 1;
    const t = tables[k];
    for (let v = 0; v < 256; v++) out.regions[(b * 256 + v) * H + k] = t[v];
  });
}

/** The dense region targets [B, z, y, x, heads] on the host (what batchToTensors builds on the backend). */
export function hostTargets(arrays: BatchArrays): Float32Array {
  const B = arrays.cases.length;
  const H = arrays.mask.length / B;
  const n = arrays.labels.length / B;
  const out = new Float32Array(B * n * H);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < n; i++) {
      const row = (b * 256 + arrays.labels[b * n + i]) * H;
      for (let h = 0; h < H; h++) out[(b * n + i) * H + h] = arrays.regions[row + h];
    }
  return out;
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
    labels: new Uint8Array(batch * n),
    regions: new Float32Array(batch * 256 * heads.length),
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
    out.labels.set(p.label, b * n);
    fillRegions(out, b, c.dataset, heads, tables);
    out.cases.push(c.id);
    out.applied.push(applied);
  }
  return out;
}

/** What a batch depends on besides the data (`loss` and `output` decide the target channels: graph/outputs.ts). */
export type BatchParams = Pick<TrainParams, 'seed' | 'heads' | 'architecture' | 'batch' | 'sampling' | 'augmentation' | 'loss' | 'output'>;

/**
 * Batches as a pure function of (params.seed, batch index k, data): batch k draws its cases,
 * patches and augmentation from Prng.derive(seed, 'batch', k). Whoever computes batch k (the main
 * thread or any loader worker) gets the same arrays, and resuming at k needs nothing but k.
 */
export class BatchDrawer {
  readonly sampler: CaseSampler;
  /** The network's output channels (the heads, or a softmax's labels): what the targets and mask are over. */
  readonly channels: HeadSpec[];
  private readonly tables: Uint8Array[];
  private readonly pipeline: AugmentationPipeline;

  constructor(
    datasets: readonly PreprocessedDataset[],
    readonly params: BatchParams,
  ) {
    this.sampler = new CaseSampler(datasets, params.sampling.kind);
    const layout = params.output ?? outputLayoutFor(params.loss, params.heads);
    this.channels = outputChannels(layout, params.heads);
    this.tables = outputTargetLuts(layout, this.channels);
    this.pipeline = new AugmentationPipeline(params.augmentation, params.architecture.patch);
  }

  /** The generator of batch k. */
  static rngFor(seed: number, k: number): Prng {
    return Prng.derive(seed, 'batch', k);
  }

  draw(k: number, onCase?: CaseListener): BatchArrays {
    const p = this.params;
    return sampleBatchArrays(this.sampler, this.channels, this.tables, p.architecture.patch, p.batch, p.sampling.foregroundFraction, this.pipeline, BatchDrawer.rngFor(p.seed, k), onCase);
  }
}
