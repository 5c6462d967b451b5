import * as tf from '@tensorflow/tfjs';
import { lossGrad, lossStats } from '../kernels/host_ops.js';
import { values } from '../model/fused.js';
import { combineSigmoidStats, multiTalentSpec, type SigmoidDiceBceSpec } from './sigmoid-dice-bce.js';

/**
 * The sigmoid Dice + BCE family of ./sigmoid-dice-bce.ts (the MultiTalent loss, nnU-Net's region
 * loss) as one custom op on host-memory backends: a single pass over logits and targets for the
 * per (case, class) sums, the scalar loss and the gradient coefficients from those in float64
 * (combineSigmoidStats), and a single pass for d(loss)/d(logits) (native kernels when built, see
 * kernels/host_ops.ts). Same value and gradient as the tfjs composition; the clamp passes the
 * gradient where the raw denominator reaches the clamp, as tf.maximum's gradient does. Targets and
 * mask are constants of the op (they receive no gradient).
 */
export function fusedSigmoidDiceBce(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, spec: SigmoidDiceBceSpec): tf.Scalar {
  const [B, D, H, W, C] = logits.shape;
  const dims = { B, N: D * H * W, C };
  const g = values(targets);
  const m = values(mask);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const zi = args[0] as tf.Tensor;
    const z = values(zi);
    const { loss, coefficients } = combineSigmoidStats(lossStats(z, g, dims), m, dims, spec);
    const value = tf.scalar(loss, 'float32');
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => [tf.tensor(lossGrad(z, g, coefficients(dy.dataSync()[0]), dims), zi.shape, 'float32')];
    return { value, gradFunc };
  });
  return op(logits) as tf.Scalar;
}

/** The MultiTalent loss (batch Dice unless `batchDice` is false) as the fused op above. */
export function fusedMultiTalentLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, batchDice = true): tf.Scalar {
  return fusedSigmoidDiceBce(logits, targets, mask, multiTalentSpec(batchDice));
}
