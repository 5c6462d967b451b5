import * as tf from '@tensorflow/tfjs';
import { multiTalentLoss } from '../loss/multitalent.js';
import type { UNet } from '../model/unet.js';
import { clipByGlobalNorm, type Optimizer } from './optimizer.js';

/** One training batch, channels-last; see train/batch.ts for how it is assembled. */
export interface TrainBatch {
  /** [B, z, y, x, 1] */
  image: tf.Tensor5D;
  /** Region targets [B, z, y, x, heads] in {0, 1}. */
  targets: tf.Tensor5D;
  /** [B, heads]: 1 when the head's dataset is the case's dataset. */
  mask: tf.Tensor2D;
}

/**
 * One optimisation step: forward, MultiTalent loss, backward (w.r.t. `vars` only), global-norm clip,
 * optimiser update. Returns the loss value. All intermediates are disposed.
 */
export function trainStep(
  model: UNet,
  vars: readonly tf.Variable[],
  optimizer: Optimizer,
  batch: TrainBatch,
  lr: number,
  clipNorm: number,
  /** Throw when the loss is not finite (benchmarks of numerically unsound backends turn it off). */
  checkFinite = true,
): number {
  const { value, grads } = tf.variableGrads(
    () => multiTalentLoss(model.apply(batch.image), batch.targets, batch.mask),
    vars as tf.Variable[],
  );
  try {
    const ordered = vars.map((v) => {
      const g = grads[v.name];
      if (!g) throw new Error(`internal: no gradient for ${v.name}`);
      return g;
    });
    const clipped = clipByGlobalNorm(ordered, clipNorm);
    try {
      optimizer.apply(vars, clipped.grads, lr);
    } finally {
      tf.dispose(clipped.grads);
    }
    const loss = value.dataSync()[0];
    if (checkFinite && !Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss}`);
    return loss;
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}
