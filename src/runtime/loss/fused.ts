import * as tf from '@tensorflow/tfjs';
import { hostDims, hostKernelConfigs, registerKernels, type HostFn } from '../kernels/fused_cpu.js';
import { SIGMOID_DICE_BCE, SIGMOID_DICE_BCE_GRAD, SOFTMAX_DICE_CE, SOFTMAX_DICE_CE_GRAD } from '../kernels/fused_names.js';
import { lossGrad, lossStats } from '../kernels/host_ops.js';
import { firstDy, hasFusedKernel, runFusedKernel } from '../model/fused.js';
import { combineSigmoidStats, multiTalentSpec, sigmoidDiceBceParts, type SigmoidDiceBceSpec } from './sigmoid-dice-bce.js';
import { checkChannels, softmaxDiceCeBackward, softmaxDiceCeForward, softmaxDiceCeParts, type SoftmaxDiceCeSpec } from './softmax-dice-ce.js';

/**
 * The fused losses, each one named kernel (../kernels/fused_names.ts) with one registered gradient,
 * as the model's fused ops (../model/fused.ts): host kernels for 'cpu' and 'wasm' here (registered
 * when this module loads), WGSL programs for 'webgpu' where they exist (../webgpu/fused_kernels.ts),
 * and the tfjs composition on backends without a kernel. Targets and mask are constants of the op
 * (they receive no gradient).
 *
 * Sigmoid Dice + BCE (./sigmoid-dice-bce.ts: the MultiTalent loss, nnU-Net's region loss): a single
 * pass over logits and targets for the per (case, class) sums, the scalar loss and the gradient
 * coefficients from those in float64 (combineSigmoidStats), and a single pass for d(loss)/d(logits)
 * (native kernels when built, see kernels/host_ops.ts). Same value and gradient as the composition;
 * the clamp passes the gradient where the raw denominator reaches the clamp, as tf.maximum's does.
 */

const run = runFusedKernel;
const first = firstDy;
const dims5 = hostDims;

// ---------------------------------------------------------------------------------------------
// Sigmoid Dice + BCE

/** The loss op; shapes are checked by the caller (./sigmoid-loss.ts). */
export function sigmoidDiceBce(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, spec: SigmoidDiceBceSpec): tf.Scalar {
  if (!hasFusedKernel(SIGMOID_DICE_BCE)) return tf.tidy(() => sigmoidDiceBceParts(logits, targets, mask, spec).loss);
  const [loss, sums] = run(SIGMOID_DICE_BCE, { logits, targets, mask }, { ...spec });
  sums.dispose(); // saved for the gradient by the tape (a kept clone) when one is recorded
  return loss as tf.Scalar;
}

tf.registerGradient({
  kernelName: SIGMOID_DICE_BCE,
  inputsToSave: ['logits', 'targets', 'mask'],
  outputsToSave: [false, true],
  gradFunc: (dy, saved, attrs) => {
    const [logits, targets, mask, sums] = saved;
    const [dz] = run(SIGMOID_DICE_BCE_GRAD, { dy: first(dy), logits, targets, mask, sums }, attrs as object);
    return { logits: () => dz };
  },
});

function specOf(attrs: Record<string, unknown>): SigmoidDiceBceSpec {
  const a = attrs as unknown as SigmoidDiceBceSpec;
  return { batchDice: a.batchDice, reduction: a.reduction, smooth: a.smooth, denominatorMin: a.denominatorMin };
}

const sigmoidHost: HostFn = ({ logits, targets, mask }, attrs) => {
  const d = dims5(logits.shape);
  const stats = lossStats(logits.values, targets.values, d);
  const { loss } = combineSigmoidStats(stats, mask.values, d, specOf(attrs));
  return [{ values: Float32Array.of(loss), shape: [] }, { values: Float32Array.from(stats), shape: [4 * d.B * d.C] }];
};

const sigmoidHostGrad: HostFn = ({ dy, logits, targets, mask, sums }, attrs) => {
  const d = dims5(logits.shape);
  const { coefficients } = combineSigmoidStats(Float64Array.from(sums.values), mask.values, d, specOf(attrs));
  return [{ values: lossGrad(logits.values, targets.values, coefficients(dy.values[0]), d), shape: logits.shape }];
};

/** The MultiTalent loss (batch Dice unless `batchDice` is false) as the op above. */
export function fusedMultiTalentLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, batchDice = true): tf.Scalar {
  return sigmoidDiceBce(logits, targets, mask, multiTalentSpec(batchDice));
}

/** The op under its older name. */
export const fusedSigmoidDiceBce = sigmoidDiceBce;
/** The op under its older name. */
export const fusedSoftmaxDiceCe = (logits: tf.Tensor5D, targets: tf.Tensor5D, spec: SoftmaxDiceCeSpec): tf.Scalar => softmaxDiceCe(logits, targets, spec);

// ---------------------------------------------------------------------------------------------
// Softmax Dice + CE (host kernels only: on webgpu the composition runs)

/** The loss op; shapes are checked by the caller (./softmax-dice-ce.ts). */
export function softmaxDiceCe(logits: tf.Tensor5D, targets: tf.Tensor5D, spec: SoftmaxDiceCeSpec): tf.Scalar {
  checkChannels(logits);
  if (!hasFusedKernel(SOFTMAX_DICE_CE)) return tf.tidy(() => softmaxDiceCeParts(logits, targets, spec).loss);
  const [loss, sums] = run(SOFTMAX_DICE_CE, { logits, targets }, { ...spec });
  sums.dispose();
  return loss as tf.Scalar;
}

tf.registerGradient({
  kernelName: SOFTMAX_DICE_CE,
  inputsToSave: ['logits', 'targets'],
  outputsToSave: [false, true],
  gradFunc: (dy, saved, attrs) => {
    const [logits, targets, sums] = saved;
    const [dz] = run(SOFTMAX_DICE_CE_GRAD, { dy: first(dy), logits, targets, sums }, attrs as object);
    return { logits: () => dz };
  },
});

function softmaxSpecOf(attrs: Record<string, unknown>): SoftmaxDiceCeSpec {
  const a = attrs as unknown as SoftmaxDiceCeSpec;
  return { batchDice: a.batchDice, smooth: a.smooth, denominatorMin: a.denominatorMin };
}

const softmaxHost: HostFn = ({ logits, targets }, attrs) => {
  const d = dims5(logits.shape);
  const { loss, sums } = softmaxDiceCeForward(logits.values, targets.values, d, softmaxSpecOf(attrs));
  return [{ values: Float32Array.of(loss), shape: [] }, { values: Float32Array.from(sums), shape: [sums.length] }];
};

const softmaxHostGrad: HostFn = ({ dy, logits, targets, sums }, attrs) => {
  const d = dims5(logits.shape);
  return [{ values: softmaxDiceCeBackward(logits.values, targets.values, Float64Array.from(sums.values), d, softmaxSpecOf(attrs), dy.values[0]), shape: logits.shape }];
};

registerKernels([
  ...hostKernelConfigs(SIGMOID_DICE_BCE, sigmoidHost),
  ...hostKernelConfigs(SIGMOID_DICE_BCE_GRAD, sigmoidHostGrad),
  ...hostKernelConfigs(SOFTMAX_DICE_CE, softmaxHost),
  ...hostKernelConfigs(SOFTMAX_DICE_CE_GRAD, softmaxHostGrad),
]);
