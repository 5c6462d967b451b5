// Networks with nnU-Net's layer conventions (imported models: PyTorch's padding, the avg-pool
// residual skip, bias-free transposed and output convolutions, v1's decoder kernels) train and
// predict on webgpu as on the cpu backend, so fine-tuning an imported model works on either.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import type { ArchitectureSpec, HeadSpec } from '../../../src/graph/types.js';
import { registerFastCpuKernels } from '../../../src/runtime/kernels/index.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { Prng } from '../../../src/runtime/rng.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';
import { registerWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { mergeUntouchedAxes } from '../../../src/runtime/webgpu/safe_kernels.js';
import { maxRelErr, onBackend, webgpuSkipReason } from './helpers.js';

const heads: HeadSpec[] = [
  { dataset: 'a', name: 'liver', labels: [1, 2] },
  { dataset: 'a', name: 'tumour', labels: [2] },
];

const v1: ArchitectureSpec = {
  name: 'v1',
  kind: 'unet',
  patch: [8, 16, 16],
  features: [4, 8, 12],
  strides: [
    [1, 1, 1],
    [1, 2, 2],
    [2, 2, 2],
  ],
  kernels: [
    [1, 3, 3],
    [3, 3, 3],
    [3, 3, 3],
  ],
  convsPerStage: 2,
  deepSupervision: true,
  layers: { padding: 'symmetric', residualSkip: 'strided_conv', convBias: true, upsampleBias: false, headBias: false, decoderKernels: 'deeper' },
};

const resenc: ArchitectureSpec = {
  ...v1,
  name: 'v2_resenc',
  kind: 'resenc_unet',
  features: [4, 8, 8],
  blocksPerStage: [1, 2, 1],
  convsPerStage: 1,
  layers: { padding: 'symmetric', residualSkip: 'avgpool_conv', convBias: true, upsampleBias: true, headBias: true, decoderKernels: 'stage' },
};

/** Losses of `steps` SGD steps from the same seeded network (norm scales randomised so every path matters). */
async function losses(spec: ArchitectureSpec, steps: number): Promise<number[]> {
  const model = UNet.create(spec, heads, 7);
  const rng = new Prng(11);
  for (const [name, v] of model.params) if (name.includes('norm') && name.endsWith('scale')) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', 3));
  const opt = createOptimizer({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const out: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      const vox = 2 * 8 * 16 * 16;
      const image = tf.tensor5d(new Float32Array(vox).map(() => rng.normal()), [2, 8, 16, 16, 1]);
      const targets = tf.tensor5d(new Float32Array(vox * 2).map(() => (rng.next() < 0.3 ? 1 : 0)), [2, 8, 16, 16, 2]);
      const mask = tf.tensor2d([1, 1, 1, 0], [2, 2]);
      out.push(await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 12));
      tf.dispose([image, targets, mask]);
    }
  } finally {
    opt.dispose();
    model.dispose();
  }
  return out;
}

describe.skipIf(webgpuSkipReason)("nnU-Net's layer conventions on webgpu equal the cpu backend", () => {
  beforeAll(() => {
    registerFastCpuKernels();
    registerWebGpuKernels();
  });

  it('rank-5 Pad and Slice (PyTorch padding and its gradient) give the cpu results (safe_kernels.ts)', async () => {
    const v = new Float32Array(2 * 3 * 4 * 5 * 2).map((_, i) => i - 50);
    const cases: [string, () => tf.Tensor][] = [
      ['pad spatial', () => tf.pad(tf.tensor5d(v, [2, 3, 4, 5, 2]), [[0, 0], [1, 1], [1, 1], [0, 0], [0, 0]])],
      ['pad every axis', () => tf.pad(tf.tensor5d(v, [2, 3, 4, 5, 2]), [[1, 0], [1, 1], [0, 2], [1, 1], [0, 1]])],
      ['slice spatial', () => tf.slice(tf.tensor5d(v, [2, 3, 4, 5, 2]), [0, 1, 1, 0, 0], [2, 2, 2, 5, 2])],
      ['slice every axis', () => tf.slice(tf.tensor5d(v, [2, 3, 4, 5, 2]), [1, 1, 0, 2, 1], [1, 2, 3, 2, 1])],
      ['pad gradient', () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.pad(x, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]]), 2)))(tf.tensor5d(v, [2, 3, 4, 5, 2]))],
    ];
    for (const [name, f] of cases) {
      const cpu = await onBackend('cpu', () => f().data());
      const gpu = await onBackend('webgpu', () => f().data());
      expect(maxRelErr(gpu as Float32Array, cpu as Float32Array), name).toBe(0);
    }
    expect(mergeUntouchedAxes([2, 3, 4, 5, 2], [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]], (a) => a === 0 || a === 4)).toEqual({ shape: [2, 3, 4, 10], params: [[0, 0], [1, 1], [1, 1], [2, 2]] });
  });

  it.each([
    ['v1 Generic_UNet conventions', v1],
    ['v2 ResEnc conventions (avg-pool skips)', resenc],
  ])('%s: two training steps give the same losses', async (_, spec) => {
    const cpu = await onBackend('cpu', () => losses(spec, 2));
    const gpu = await onBackend('webgpu', () => losses(spec, 2));
    expect(gpu.every(Number.isFinite)).toBe(true);
    expect(maxRelErr(gpu, cpu)).toBeLessThan(1e-4);
    expect(cpu[1]).not.toBeCloseTo(cpu[0], 4);
  }, 300_000);
});
