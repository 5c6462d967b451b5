import * as tf from '@tensorflow/tfjs';
import { DICE_DENOMINATOR_MIN } from './constants.js';
import { multiTalentSpec, sigmoidDiceBceParts, type SigmoidDiceBceParts } from './sigmoid-dice-bce.js';
import { sigmoidDiceBceLoss } from './sigmoid-loss.js';

export { DICE_DENOMINATOR_MIN };

export type MultiTalentLossParts = SigmoidDiceBceParts;

export interface MultiTalentLossOptions {
  /**
   * Batch Dice (default, as the paper): each class's Dice pooled over every case of the batch that
   * annotates it. false: the authors' code on one GPU, a Dice per annotated (case, class), summed.
   */
  batchDice?: boolean;
}

/**
 * MultiTalent loss (paper eq. 2), from logits, with its per-class parts.
 *
 * - `logits` z [B, z, y, x, C]; probabilities p = sigmoid(z), one independent sigmoid per class.
 * - `targets` g [B, z, y, x, C] in {0, 1}: the class regions.
 * - `mask` m [B, C]: 1 when class c belongs to case b's dataset, else 0.
 *
 * BCE_c = sum_b m[b,c] * mean_voxels BCE(z[b,.,c], g[b,.,c]) with the stable BCE-with-logits
 *   max(z,0) - z*g + log(1 + exp(-|z|));
 * Dice_c = 2 sum_{b,i} m p g / max(sum_{b,i} m p + sum_{b,i} m g, 1e-7)   (batch Dice), or with
 *   `batchDice: false` the sum over annotating cases b of 2 sum_i p g / max(sum_i p + sum_i g, 1e-7);
 * L = sum over classes annotated by >= 1 case of the batch of (BCE_c - Dice_c).
 * Classes no case annotates contribute exactly 0 and receive zero gradient.
 */
export function multiTalentLossParts(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, options: MultiTalentLossOptions = {}): MultiTalentLossParts {
  return sigmoidDiceBceParts(logits, targets, mask, multiTalentSpec(options.batchDice ?? true));
}

/**
 * The scalar MultiTalent loss; see `multiTalentLossParts`. `annotated` is the [B, C] 0/1 mask of the
 * classes each case's dataset annotates. One fused op (./fused.ts: a named kernel with one gradient,
 * run by the active backend's kernel, or composed of tfjs ops where it has none).
 */
export function multiTalentLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, annotated: tf.Tensor2D, options: MultiTalentLossOptions = {}): tf.Scalar {
  return sigmoidDiceBceLoss(logits, targets, annotated, multiTalentSpec(options.batchDice ?? true));
}
