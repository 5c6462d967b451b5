/**
 * Per-epoch validation, as nnU-Net's trainer does it: a fixed number of batches of patches from
 * the fold's validation cases (foreground oversampling as in training, no augmentation), the
 * full-resolution output turned into masks per output channel (sigmoid: p > 0.5 per channel;
 * softmax: the argmax channel), and true/false positives and false negatives summed over all
 * patches per channel; the pseudo-Dice of a channel is 2TP / (2TP + FP + FN) (undefined when it is
 * neither present nor predicted); a softmax's background channel is left out. Only cases of a
 * channel's own dataset count for it (the loss's mask). Validation batch j draws from
 * Prng.derive(seed, 'validation', j): the same patches every epoch, so the curve measures the
 * network, not the draw.
 *
 * The moving average that picks the `best` checkpoint is nnU-Net's: ema = 0.9 ema + 0.1 mean
 * (the first epoch's mean starts it).
 */
import * as tf from '@tensorflow/tfjs';
import type { HeadSpec, OutputLayout, Vec3 } from '../../graph/types.js';
import type { Network } from '../model/registry.js';
import { Prng } from '../rng.js';
import { sampleBatchArrays } from './batch.js';
import type { CaseSampler } from './sampler.js';
import { batchToTensors } from './step.js';

export const EMA_KEEP = 0.9;

export interface ValidationResult {
  /** Pseudo-Dice per class, keyed `dataset/class`; null where undefined. */
  perClass: Record<string, number | null>;
  /** Mean over the defined classes; null when none is defined. */
  mean: number | null;
}

export interface ValidationSetup {
  sampler: CaseSampler;
  /** The network's output channels (its heads, or a softmax's labels: graph/outputs.ts). */
  channels: readonly HeadSpec[];
  layout: OutputLayout;
  /** Per channel, label value -> 1 when it belongs to the channel's target (data/regions.ts outputTargetLuts). */
  tables: readonly Uint8Array[];
  patch: Vec3;
  batch: number;
  foregroundFraction: number;
  seed: number;
  batches: number;
}

export function nextEma(ema: number | null, mean: number | null): number | null {
  if (mean === null) return ema;
  return ema === null ? mean : EMA_KEEP * ema + (1 - EMA_KEEP) * mean;
}

/** Pseudo-Dice of `model` on the validation patches (see the module doc). */
export async function validate(model: Network, v: ValidationSetup, signal?: AbortSignal): Promise<ValidationResult> {
  const H = v.channels.length;
  const tp = new Float64Array(H);
  const fp = new Float64Array(H);
  const fn = new Float64Array(H);
  for (let j = 0; j < v.batches; j++) {
    signal?.throwIfAborted();
    const arrays = sampleBatchArrays(v.sampler, v.channels, v.tables, v.patch, v.batch, v.foregroundFraction, null, Prng.derive(v.seed, 'validation', j));
    const t = batchToTensors(arrays, v.patch, H);
    let counts: tf.Tensor1D[] = [];
    try {
      counts = tf.tidy(() => {
        const logits = model.apply(t.image);
        const pred = v.layout.activation === 'softmax' ? tf.oneHot(tf.argMax(logits, 4), H).toFloat() : tf.cast(tf.greater(logits, 0), 'float32');
        // Per sample and channel, sums over [z, y, x] as a batched ones [B, 1, N] x [B, N, H]: a
        // sum over leading axes transposes its input first on tfjs's cpu backend (element by
        // element), a matMul does not. The counts are integers below 2^24, so float32 sums them
        // exactly in any order. The class mask (0 or 1 per sample and channel) applies to the
        // sums below, not to every voxel (tfjs's broadcasting multiply is per element).
        const B = pred.shape[0];
        const n = pred.size / (B * H);
        const ones = tf.ones([B, 1, n]);
        const sum = (x: tf.Tensor) => tf.reshape(tf.matMul(ones, tf.reshape(x, [B, n, H])), [B * H]);
        const tpk = sum(tf.mul(pred, t.targets));
        return [tpk, tf.sub(sum(pred), tpk), tf.sub(sum(t.targets), tpk)] as tf.Tensor1D[];
      });
      const [a, b, c] = await Promise.all(counts.map((x) => x.data()));
      const mask = arrays.mask;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] === 0) continue;
        const k = i % H;
        tp[k] += a[i];
        fp[k] += b[i];
        fn[k] += c[i];
      }
    } finally {
      tf.dispose([t.image, t.targets, t.mask, ...counts]);
    }
  }
  const perClass: Record<string, number | null> = {};
  const defined: number[] = [];
  v.channels.forEach((h, k) => {
    if (v.layout.activation === 'softmax' && k === 0) return; // background
    const den = 2 * tp[k] + fp[k] + fn[k];
    const d = den > 0 ? (2 * tp[k]) / den : null;
    perClass[`${h.dataset}/${h.name}`] = d;
    if (d !== null) defined.push(d);
  });
  return { perClass, mean: defined.length > 0 ? defined.reduce((s, x) => s + x, 0) / defined.length : null };
}
