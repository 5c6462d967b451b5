import * as tf from '@tensorflow/tfjs';
import type { HeadSpec, Vec3 } from '../../graph/types.js';
import { regionLut } from '../data/regions.js';
import type { PreprocessedCase } from '../data/types.js';
import type { Prng } from '../rng.js';
import type { PatchAugmenter } from './augment.js';
import { choosePatchStart, extractPatch, isForcedForeground, type CaseSampler } from './sampler.js';
import type { TrainBatch } from './step.js';

/** The host-side arrays of a batch, before they become tensors. */
export interface BatchArrays {
  /** [B, z, y, x, 1] */
  image: Float32Array;
  /** [B, z, y, x, heads] */
  targets: Float32Array;
  /** [B, heads] */
  mask: Float32Array;
  cases: string[];
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

/** Draws a batch: cases by the sampler, patches with nnU-Net's foreground oversampling, augmentation. */
export function sampleBatchArrays(
  sampler: CaseSampler,
  heads: readonly HeadSpec[],
  tables: readonly Uint8Array[],
  patch: Vec3,
  batch: number,
  foregroundFraction: number,
  augmenter: PatchAugmenter | null,
  rng: Prng,
): BatchArrays {
  const n = patch[0] * patch[1] * patch[2];
  const out: BatchArrays = {
    image: new Float32Array(batch * n),
    targets: new Float32Array(batch * n * heads.length),
    mask: new Float32Array(batch * heads.length),
    cases: [],
  };
  for (let b = 0; b < batch; b++) {
    const c: PreprocessedCase = sampler.next(rng);
    const { start } = choosePatchStart(c, patch, isForcedForeground(b, batch, foregroundFraction), rng);
    const { image, label } = extractPatch(c, start, patch);
    augmenter?.apply(image, label, patch, rng);
    out.image.set(image, b * n);
    fillTargets(out, b, label, c.dataset, heads, tables);
    out.cases.push(c.id);
  }
  return out;
}

export function batchToTensors(arrays: BatchArrays, patch: Vec3, heads: number): TrainBatch {
  const B = arrays.mask.length / heads;
  return {
    image: tf.tensor5d(arrays.image, [B, ...patch, 1]),
    targets: tf.tensor5d(arrays.targets, [B, ...patch, heads]),
    mask: tf.tensor2d(arrays.mask, [B, heads]),
  };
}
