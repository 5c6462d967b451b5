import type * as tf from '@tensorflow/tfjs';
import { softmaxDiceCe } from './fused.js';
import { checkLossShapes } from './sigmoid-dice-bce.js';
import { checkChannels, type SoftmaxDiceCeSpec } from './softmax-dice-ce.js';

/**
 * nnU-Net's softmax Dice + CE (./softmax-dice-ce.ts) on the active backend: the fused op of
 * ./fused.ts (one named kernel with one gradient; host kernels on cpu and wasm, the tfjs composition
 * on backends without one, webgpu included). The [B, C] mask is checked and not read.
 */
export function softmaxDiceCeLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, spec: SoftmaxDiceCeSpec): tf.Scalar {
  checkLossShapes(logits, targets, mask);
  checkChannels(logits);
  return softmaxDiceCe(logits, targets, spec);
}
