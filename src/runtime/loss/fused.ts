import * as tf from '@tensorflow/tfjs';
import { lossGrad, lossStats } from '../kernels/host_ops.js';
import { values } from '../model/fused.js';
import { DICE_DENOMINATOR_MIN } from './constants.js';

/**
 * The MultiTalent loss of ./multitalent.ts as one custom op: a single pass over logits and targets
 * for the per (case, class) sums, the scalar loss from those in float64, and a single pass for
 * d(loss)/d(logits) (native kernels when built, see kernels/host_ops.ts). Same math:
 *
 *   BCE_c  = sum_b m[b,c] S_bce[b,c] / N
 *   Dice_c = num_c / den_c,  num_c = 2 sum_b m[b,c] S_pg[b,c],
 *            den_c = max(sum_b m[b,c] (S_p[b,c] + S_g[b,c]), 1e-7)
 *   L = sum_c a_c (BCE_c - Dice_c),  a_c = 1 when sum_b m[b,c] > 0
 *
 * and, with p = sigmoid(z),
 *   dL/dz[b,i,c] = a_c m[b,c] ( (p - g) / N - p (1 - p) (2 g / den_c - num_c [den_c unclamped] / den_c^2) ).
 * The clamp passes the gradient where the raw denominator is >= 1e-7, as tf.maximum's gradient does.
 * Targets and mask are constants of the op (they receive no gradient).
 */
export function fusedMultiTalentLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D): tf.Scalar {
  const [B, D, H, W, C] = logits.shape;
  const N = D * H * W;
  const dims = { B, N, C };
  const BC = B * C;
  const g = values(targets);
  const m = values(mask);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const zi = args[0] as tf.Tensor;
    const z = values(zi);
    const s = lossStats(z, g, dims);
    const num = new Float64Array(C);
    const den = new Float64Array(C);
    const msum = new Float64Array(C);
    const bce = new Float64Array(C);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const k = b * C + c;
        const mk = m[k];
        msum[c] += mk;
        bce[c] += (mk * s[k]) / N;
        num[c] += 2 * mk * s[BC + k];
        den[c] += mk * (s[2 * BC + k] + s[3 * BC + k]);
      }
    }
    let loss = 0;
    for (let c = 0; c < C; c++) {
      if (msum[c] > 0) loss += bce[c] - num[c] / Math.max(den[c], DICE_DENOMINATOR_MIN);
    }
    const value = tf.scalar(loss, 'float32');
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const scale = dy.dataSync()[0];
      const coef = new Float32Array(3 * BC);
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          const k = b * C + c;
          if (!(msum[c] > 0) || m[k] === 0) continue;
          const f = scale * m[k];
          const dc = Math.max(den[c], DICE_DENOMINATOR_MIN);
          coef[k] = f / N;
          coef[BC + k] = (2 * f) / dc;
          coef[2 * BC + k] = den[c] >= DICE_DENOMINATOR_MIN ? (f * num[c]) / (dc * dc) : 0;
        }
      }
      return [tf.tensor(lossGrad(z, g, coef, dims), zi.shape, 'float32')];
    };
    return { value, gradFunc };
  });
  return op(logits) as tf.Scalar;
}
