import type * as tf from '@tensorflow/tfjs';
import { sigmoidDiceBce } from './fused.js';
import { checkLossShapes, type SigmoidDiceBceSpec } from './sigmoid-dice-bce.js';

/**
 * The scalar loss of the sigmoid Dice + BCE family (./sigmoid-dice-bce.ts) on the active backend:
 * the fused op of ./fused.ts, one named kernel with one gradient (host kernels on cpu and wasm, WGSL
 * on webgpu, the tfjs composition on backends without one).
 */
export function sigmoidDiceBceLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, spec: SigmoidDiceBceSpec): tf.Scalar {
  checkLossShapes(logits, targets, mask);
  return sigmoidDiceBce(logits, targets, mask, spec);
}
