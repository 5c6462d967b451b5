import * as tf from '@tensorflow/tfjs';
import { deepSupervisionLoss, deepSupervisionWeights, downsampleTargets } from '../loss/deep-supervision.js';
import { multiTalentLoss } from '../loss/multitalent.js';
import type { LossFn } from '../loss/registry.js';
import { outputCount, outputStrides, type Network } from '../model/registry.js';
import { takeDeviceErrors } from '../webgpu/dawn.js';
import type { BatchArrays } from './batch.js';
import { clipByGlobalNorm, type Optimizer } from './optimizer.js';

/** One training batch, channels-last; see train/batch.ts for how it is assembled. */
export interface TrainBatch {
  /** [B, z, y, x, 1] */
  image: tf.Tensor5D;
  /** Targets [B, z, y, x, channels] in {0, 1}: the heads' regions, or the one-hot label map of a softmax output (graph/outputs.ts). */
  targets: tf.Tensor5D;
  /** [B, channels]: 1 when the channel's dataset is the case's dataset. */
  mask: tf.Tensor2D;
}

/**
 * A batch's host arrays as tensors (the caller disposes them). The region targets are gathered on
 * the backend: row b * 256 + label of the batch's region table, for every voxel.
 */
export function batchToTensors(arrays: BatchArrays, patch: readonly [number, number, number], heads: number): TrainBatch {
  const B = arrays.mask.length / heads;
  const n = arrays.labels.length / B;
  const rows = new Int32Array(B * n);
  for (let b = 0; b < B; b++) {
    const base = b * n;
    for (let i = 0; i < n; i++) rows[base + i] = b * 256 + arrays.labels[base + i];
  }
  const targets = tf.tidy(() => tf.gather(tf.tensor2d(arrays.regions, [B * 256, heads]), tf.tensor1d(rows, 'int32')).reshape([B, ...patch, heads]) as tf.Tensor5D);
  return {
    image: tf.tensor5d(arrays.image, [B, ...patch, 1]),
    targets,
    mask: tf.tensor2d(arrays.mask, [B, heads]),
  };
}

/**
 * With deep supervision: the targets per output (nearest-downsampled to each output's resolution,
 * full resolution first), the loss weights, and the variables of zero-weight outputs (which get no
 * gradient and are left untouched, as in nnU-Net). Null without deep supervision.
 */
function deepSupervisionPlan(model: Network, batch: TrainBatch): { targets: tf.Tensor5D[]; weights: number[]; unused: Set<tf.Variable> } | null {
  const n = outputCount(model.architecture);
  if (n === 1) return null;
  const weights = deepSupervisionWeights(n);
  const targets = outputStrides(model.architecture).map((s) => downsampleTargets(batch.targets, s));
  const unused = new Set<tf.Variable>();
  weights.forEach((w, k) => {
    if (w === 0) for (const v of model.outputHeadVariables(k)) unused.add(v);
  });
  return { targets, weights, unused };
}

/** The loss of a training step was NaN or infinite (the caller names the iteration and the batch). */
export class NonFiniteLossError extends Error {
  constructor(readonly loss: number) {
    super(`training diverged: loss is ${loss}`);
    this.name = 'NonFiniteLossError';
  }
}

/**
 * One optimisation step: forward, the loss (`loss`, from loss/registry.ts; the MultiTalent loss
 * unless given; with deep supervision its weighted multi-scale sum, see loss/deep-supervision.ts),
 * backward (w.r.t. `vars` only), global-norm clip, optimiser update. Resolves to the loss value
 * (read back asynchronously: GPU backends have no synchronous read); a NaN or infinite loss rejects
 * with NonFiniteLossError. All intermediates are disposed.
 */
export async function trainStep(
  model: Network,
  vars: readonly tf.Variable[],
  optimizer: Optimizer,
  batch: TrainBatch,
  lr: number,
  clipNorm: number,
  /** Throw when the loss is not finite (benchmarks of numerically unsound backends turn it off). */
  checkFinite = true,
  loss: LossFn = multiTalentLoss,
): Promise<number> {
  const ds = deepSupervisionPlan(model, batch);
  if (ds) vars = vars.filter((v) => !ds.unused.has(v));
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
  try {
    result = tf.variableGrads(
      ds
        ? () => deepSupervisionLoss(model.applyAll(batch.image), ds.targets, batch.mask, ds.weights, loss)
        : () => loss(model.apply(batch.image), batch.targets, batch.mask),
      vars as tf.Variable[],
    );
  } finally {
    if (ds) tf.dispose(ds.targets);
  }
  const { value, grads } = result;
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
      if (typeof clipped.norm !== 'number') clipped.norm.dispose();
    }
    const lossValue = (await value.data())[0];
    const gpuErrors = takeDeviceErrors();
    if (gpuErrors.length > 0) {
      throw new Error(`the GPU rejected work of this training step, so its results are wrong: ${gpuErrors.join('; ')}`);
    }
    if (checkFinite && !Number.isFinite(lossValue)) throw new NonFiniteLossError(lossValue);
    return lossValue;
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}
