import * as tf from '@tensorflow/tfjs';
import type { Vec3 } from '../../graph/types.js';
import { multiTalentLoss } from './multitalent.js';
import type { LossFn } from './registry.js';

/**
 * nnU-Net's deep-supervision loss weights for `outputs` outputs (output 0 = full resolution):
 * w_i = 1 / 2^i, the lowest-resolution output's weight set to 0, normalised to sum 1
 * (5 outputs: 0.533, 0.267, 0.133, 0.067, 0). A single output gets weight 1.
 */
export function deepSupervisionWeights(outputs: number): number[] {
  if (!Number.isInteger(outputs) || outputs < 1) throw new Error(`deep supervision needs at least one output, got ${outputs}`);
  if (outputs === 1) return [1];
  const w = Array.from({ length: outputs }, (_, i) => 1 / 2 ** i);
  w[outputs - 1] = 0;
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/**
 * Nearest-neighbour downsampling of targets [B, z, y, x, C] as nnU-Net does it for deep supervision:
 * every stride-th voxel per axis starting at 0 (`targets[:, ::sz, ::sy, ::sx, :]`). Returns a new
 * tensor (also for stride [1, 1, 1]).
 */
export function downsampleTargets(targets: tf.Tensor5D, stride: Vec3): tf.Tensor5D {
  const [B, Z, Y, X, C] = targets.shape;
  if (stride.every((s) => s === 1)) return tf.clone(targets);
  return tf.stridedSlice(targets, [0, 0, 0, 0, 0], [B, Z, Y, X, C], [1, stride[0], stride[1], stride[2], 1]) as tf.Tensor5D;
}

/**
 * The deep-supervision loss: sum_k weights[k] * loss(logits[k], targets[k], mask), with the [B, C]
 * mask shared by all scales (`loss`: the MultiTalent loss unless given; any loss of ./registry.ts).
 * Outputs with weight 0 are not evaluated (as nnU-Net's DeepSupervisionWrapper), so their heads
 * receive no gradient.
 */
export function deepSupervisionLoss(
  logits: readonly tf.Tensor5D[],
  targets: readonly tf.Tensor5D[],
  mask: tf.Tensor2D,
  weights: readonly number[],
  loss: LossFn = multiTalentLoss,
): tf.Scalar {
  if (logits.length !== targets.length || logits.length !== weights.length) {
    throw new Error(`deep supervision: ${logits.length} outputs, ${targets.length} targets, ${weights.length} weights`);
  }
  return tf.tidy(() => {
    let total: tf.Scalar | null = null;
    for (let k = 0; k < logits.length; k++) {
      if (weights[k] === 0) continue;
      const term = tf.mul(loss(logits[k], targets[k], mask), weights[k]) as tf.Scalar;
      total = total ? (tf.add(total, term) as tf.Scalar) : term;
    }
    if (!total) throw new Error('deep supervision: every output has weight 0');
    return total;
  });
}
