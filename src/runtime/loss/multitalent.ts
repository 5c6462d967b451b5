import * as tf from '@tensorflow/tfjs';
import { useFusedOps, useGpuFusedOps } from '../model/fused.js';
import { gpuMultiTalentLoss } from '../webgpu/fused.js';
import { DICE_DENOMINATOR_MIN } from './constants.js';
import { fusedMultiTalentLoss } from './fused.js';

export { DICE_DENOMINATOR_MIN };

export interface MultiTalentLossParts {
  /** Scalar total loss L. */
  loss: tf.Scalar;
  /** Per class BCE_c [C] (0 for classes no case in the batch annotates). */
  bce: tf.Tensor1D;
  /** Per class batch Dice_c [C] (0 for classes no case in the batch annotates). */
  dice: tf.Tensor1D;
  /** 1 for classes annotated by at least one case of the batch, else 0 [C]. */
  annotated: tf.Tensor1D;
}

function checkShapes(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D): void {
  const [b, , , , c] = logits.shape;
  if (targets.shape.join(',') !== logits.shape.join(',')) {
    throw new Error(`loss: targets [${targets.shape.join(', ')}] do not match logits [${logits.shape.join(', ')}]`);
  }
  if (mask.shape[0] !== b || mask.shape[1] !== c) {
    throw new Error(`loss: mask [${mask.shape.join(', ')}] must be [${b}, ${c}]`);
  }
}

/**
 * MultiTalent loss (paper eq. 2), from logits.
 *
 * - `logits` z [B, z, y, x, C]; probabilities p = sigmoid(z), one independent sigmoid per class.
 * - `targets` g [B, z, y, x, C] in {0, 1}: the class regions.
 * - `mask` m [B, C]: 1 when class c belongs to case b's dataset, else 0.
 *
 * BCE_c = sum_b m[b,c] * mean_voxels BCE(z[b,.,c], g[b,.,c]) with the stable BCE-with-logits
 *   max(z,0) - z*g + log(1 + exp(-|z|));
 * Dice_c = 2 sum_{b,i} m p g / max(sum_{b,i} m p + sum_{b,i} m g, 1e-7)   (batch Dice);
 * L = sum over classes annotated by >= 1 case of the batch of (BCE_c - Dice_c).
 * Classes no case annotates contribute exactly 0 and receive zero gradient.
 */
export function multiTalentLossParts(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D): MultiTalentLossParts {
  checkShapes(logits, targets, mask);
  return tf.tidy(() => {
    const spatial = [1, 2, 3];
    const bceVox = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    const bcePerCase = tf.mean(bceVox, spatial) as tf.Tensor2D; // [B, C]
    const bce = tf.sum(tf.mul(mask, bcePerCase), 0) as tf.Tensor1D; // [C]

    const p = tf.sigmoid(logits);
    const inter = tf.sum(tf.mul(p, targets), spatial) as tf.Tensor2D; // [B, C]
    const sumP = tf.sum(p, spatial) as tf.Tensor2D;
    const sumG = tf.sum(targets, spatial) as tf.Tensor2D;
    const num = tf.mul(2, tf.sum(tf.mul(mask, inter), 0));
    const den = tf.maximum(tf.sum(tf.mul(mask, tf.add(sumP, sumG)), 0), DICE_DENOMINATOR_MIN);
    const dice = tf.div(num, den) as tf.Tensor1D;

    const annotated = tf.cast(tf.greater(tf.sum(mask, 0), 0), 'float32') as tf.Tensor1D;
    const loss = tf.sum(tf.mul(annotated, tf.sub(bce, dice))) as tf.Scalar;
    return { loss, bce, dice, annotated };
  });
}

/**
 * The scalar MultiTalent loss; see `multiTalentLossParts`. On backends with host-memory tensors
 * (cpu, wasm) it is the single fused op of ./fused.ts, on webgpu its WGSL twin (same value and gradient).
 */
export function multiTalentLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D): tf.Scalar {
  if (useFusedOps()) {
    checkShapes(logits, targets, mask);
    return fusedMultiTalentLoss(logits, targets, mask);
  }
  if (useGpuFusedOps()) {
    checkShapes(logits, targets, mask);
    return gpuMultiTalentLoss(logits, targets, mask);
  }
  return tf.tidy(() => multiTalentLossParts(logits, targets, mask).loss);
}
