import * as tf from '@tensorflow/tfjs';
import { useFusedOps, useGpuFusedOps } from '../model/fused.js';
import { gpuSigmoidDiceBce } from '../webgpu/fused.js';
import { fusedSigmoidDiceBce } from './fused.js';
import { checkLossShapes, sigmoidDiceBceParts, type SigmoidDiceBceSpec } from './sigmoid-dice-bce.js';

/**
 * The scalar loss of the sigmoid Dice + BCE family (./sigmoid-dice-bce.ts) on the active backend:
 * the fused op of ./fused.ts on host-memory backends (cpu, wasm), its WGSL twin on webgpu (same
 * value and gradient), else the tfjs composition.
 */
export function sigmoidDiceBceLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, spec: SigmoidDiceBceSpec): tf.Scalar {
  checkLossShapes(logits, targets, mask);
  if (useFusedOps()) return fusedSigmoidDiceBce(logits, targets, mask, spec);
  if (useGpuFusedOps()) return gpuSigmoidDiceBce(logits, targets, mask, spec);
  return tf.tidy(() => sigmoidDiceBceParts(logits, targets, mask, spec).loss);
}
