// The whole GPU path against the cpu backend: a training step (loss and every gradient), several
// optimiser steps through trainStep (device-side clipping, flat optimiser updates, asynchronous
// loss read), and sliding-window inference with mirroring.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import type { ArchitectureSpec, HeadSpec } from '../../../src/graph/types.js';
import { registerFastCpuKernels } from '../../../src/runtime/kernels/index.js';
import { slidingWindowPredict } from '../../../src/runtime/infer/sliding-window.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import { Prng } from '../../../src/runtime/rng.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';
import { verifyStep } from '../../../src/runtime/verify.js';
import { registerWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { maxRelErr, onBackend, webgpuSkipReason } from './helpers.js';

const arch: ArchitectureSpec = {
  name: 't',
  kind: 'unet',
  patch: [8, 16, 16],
  features: [4, 8, 12],
  strides: [
    [1, 1, 1],
    [1, 2, 2],
    [2, 2, 2],
  ],
  convsPerStage: 2,
};
const heads: HeadSpec[] = [
  { dataset: 'a', name: 'liver', labels: [1] },
  { dataset: 'a', name: 'tumour', labels: [2] },
  { dataset: 'b', name: 'kidney', labels: [1] },
];

function batchArrays(seed: number): { image: Float32Array; targets: Float32Array; mask: Float32Array } {
  const rng = new Prng(seed);
  const vox = 2 * 8 * 16 * 16;
  return {
    image: new Float32Array(vox).map(() => rng.normal()),
    targets: new Float32Array(vox * 3).map(() => (rng.next() < 0.3 ? 1 : 0)),
    mask: Float32Array.from([1, 1, 0, 0, 0, 1]),
  };
}

/** Losses of `steps` SGD steps from the same seeded network, on the active backend. */
async function trainLosses(steps: number, spec: ArchitectureSpec = arch): Promise<number[]> {
  const model = UNet.create(spec, heads, 3);
  const opt = createOptimizer({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const losses: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      const b = batchArrays(100 + s);
      const image = tf.tensor5d(b.image, [2, 8, 16, 16, 1]);
      const targets = tf.tensor5d(b.targets, [2, 8, 16, 16, 3]);
      const mask = tf.tensor2d(b.mask, [2, 3]);
      // clip norm 1 so that clipping is active and its on-device decision is exercised
      losses.push(await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 1));
      tf.dispose([image, targets, mask]);
    }
  } finally {
    opt.dispose();
    model.dispose();
  }
  return losses;
}

describe.skipIf(webgpuSkipReason)('training and inference on webgpu equal the cpu backend', () => {
  beforeAll(() => {
    registerFastCpuKernels();
    registerWebGpuKernels();
  });

  it('one step: loss and the gradient of every parameter', async () => {
    const cases = await verifyStep('webgpu', { patch: [8, 16, 16], features: [4, 8, 16], batch: 2, heads: 5 }, 1e-4);
    for (const c of cases) expect(c.error, c.name).toBeLessThanOrEqual(c.tolerance);
    expect(cases[0].detail?.loss).toBeGreaterThan(0);
    // The first step compiles every pipeline; on a software adapter that alone takes tens of seconds.
  }, 300_000);

  it('resenc_unet: one step, loss and every gradient', async () => {
    const cases = await verifyStep('webgpu', { arch: 'resenc_unet', patch: [8, 16, 16], features: [4, 8, 16], batch: 2, heads: 3 }, 1e-4);
    for (const c of cases) expect(c.error, c.name).toBeLessThanOrEqual(c.tolerance);
  }, 300_000);

  it('four SGD steps with clipping give the same losses', async () => {
    const cpu = await onBackend('cpu', () => trainLosses(4));
    const gpu = await onBackend('webgpu', () => trainLosses(4));
    expect(gpu.every(Number.isFinite)).toBe(true);
    expect(maxRelErr(gpu, cpu)).toBeLessThan(1e-4);
    expect(cpu[3]).not.toBeCloseTo(cpu[0], 3);
  }, 300_000);

  it('the plain tfjs composition (fused ops off) on webgpu matches too, through the safe kernels', async () => {
    const cpu = await onBackend('cpu', () => trainLosses(2));
    setFusedOps('off');
    try {
      const gpu = await onBackend('webgpu', () => trainLosses(2));
      expect(maxRelErr(gpu, cpu)).toBeLessThan(1e-4);
    } finally {
      setFusedOps('auto');
    }
  }, 300_000);

  it('deep supervision: the multi-scale loss and its steps match too', async () => {
    // 4 stages: 3 outputs with weights 2/3, 1/3, 0 (with 3 stages the second output's weight is 0)
    const four: ArchitectureSpec = { ...arch, features: [4, 8, 8, 12], strides: [...arch.strides, [2, 2, 2]] };
    const ds: ArchitectureSpec = { ...four, deepSupervision: true };
    const cpu = await onBackend('cpu', () => trainLosses(2, ds));
    const gpu = await onBackend('webgpu', () => trainLosses(2, ds));
    expect(maxRelErr(gpu, cpu)).toBeLessThan(1e-4);
    const plain = await onBackend('cpu', () => trainLosses(1, four));
    expect(cpu[0]).not.toBeCloseTo(plain[0], 4); // the extra outputs do enter the loss
  }, 300_000);

  it('sliding-window inference with mirroring and a head subset', async () => {
    const rng = new Prng(9);
    const shape: [number, number, number] = [10, 20, 19];
    const image = new Float32Array(shape[0] * shape[1] * shape[2]).map(() => rng.normal());
    const opts = { stepFraction: 0.5, gaussian: true, mirror: true, heads: [2, 0], tilesPerBatch: 2 };
    const run = async (): Promise<Float32Array[]> => {
      const model = UNet.create(arch, heads, 4);
      try {
        return await slidingWindowPredict(model, image, shape, opts);
      } finally {
        model.dispose();
      }
    };
    const cpu = await onBackend('cpu', run);
    const gpu = await onBackend('webgpu', run);
    expect(gpu.length).toBe(2);
    gpu.forEach((p, i) => expect(maxRelErr(p, cpu[i])).toBeLessThan(1e-4));
  }, 300_000);

  it('rank-5 reverse, strided slice, broadcasting and AddN give the cpu results (safe_kernels.ts)', async () => {
    const v = new Float32Array(2 * 3 * 4 * 5 * 2).map((_, i) => i);
    const cases: [string, () => tf.Tensor][] = [
      ['reverse 1', () => tf.reverse(tf.tensor5d(v, [2, 3, 4, 5, 2]), [1])],
      ['reverse 1,3', () => tf.reverse(tf.tensor5d(v, [2, 3, 4, 5, 2]), [1, 3])],
      ['reverse 1,2,3', () => tf.reverse(tf.tensor5d(v, [2, 3, 4, 5, 2]), [1, 2, 3])],
      ['strided slice', () => tf.stridedSlice(tf.tensor5d(v, [2, 3, 4, 5, 2]), [0, 0, 1, 0, 0], [2, 3, 4, 5, 2], [1, 2, 2, 3, 1])],
      ['channel bias', () => tf.add(tf.tensor5d(v, [2, 3, 4, 5, 2]), tf.tensor1d([0.5, -2]))],
      ['scalar product', () => tf.mul(tf.tensor5d(v, [2, 3, 4, 5, 2]), 0.25)],
      ['per-sample scale', () => tf.mul(tf.tensor5d(v, [2, 3, 4, 5, 2]), tf.tensor5d([2, 3], [2, 1, 1, 1, 1]))],
      ['addN of 20', () => tf.addN(Array.from({ length: 20 }, (_, i) => tf.tensor1d([i, 2 * i])))],
      ['leaky relu gradient', () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(x, 0.1), x)))(tf.tensor5d(v.map((a) => a - 100), [2, 3, 4, 5, 2]))],
    ];
    for (const [name, f] of cases) {
      const want = await onBackend('cpu', () => f().data());
      const got = await onBackend('webgpu', () => f().data());
      expect(got.length, name).toBe(want.length);
      expect(maxRelErr(got, want), name).toBeLessThan(1e-6); // data movement exact; arithmetic to rounding
    }
  });

  it('reverse over each set of spatial axes matches', async () => {
    const v = new Float32Array(2 * 3 * 4 * 5 * 2).map((_, i) => i);
    for (const axes of [[2], [3], [2, 3]]) {
      const want = await onBackend('cpu', () => tf.reverse(tf.tensor5d(v, [2, 3, 4, 5, 2]), axes).data());
      const got = await onBackend('webgpu', () => tf.reverse(tf.tensor5d(v, [2, 3, 4, 5, 2]), axes).data());
      expect(Array.from(got), `axes ${axes.join(',')}`).toEqual(Array.from(want));
    }
  });
});
