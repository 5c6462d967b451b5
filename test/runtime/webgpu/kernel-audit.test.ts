// A guard against tfjs-webgpu 4.22's known defects: what a webgpu training step and an inference
// pass hand to tfjs's own kernels must avoid every configuration that generates invalid WGSL,
// exceeds the device's binding limits or is unsupported. On NVIDIA these silently skip the work, and
// the software adapter used in the tests tolerates some of them, so equality with the cpu backend
// alone would not catch them. Kernels that src/runtime/webgpu/safe_kernels.ts wraps are audited at
// what the wrappers forward; all others as the engine runs them.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { ArchitectureSpec, HeadSpec, OutputLayout } from '../../../src/graph/types.js';
import { createLoss } from '../../../src/runtime/loss/registry.js';
import { slidingWindowPredict } from '../../../src/runtime/infer/sliding-window.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import { Prng } from '../../../src/runtime/rng.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';
import { registerWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { mergeBroadcastAxes, mergeTransposeAxes, observeForwardedKernels } from '../../../src/runtime/webgpu/safe_kernels.js';
import { onBackend, webgpuSkipReason } from './helpers.js';

const BINARY = new Set([
  'Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow', 'FloorDiv', 'Mod',
  'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'Atan2', 'Prelu',
]);
const WRAPPED = new Set([...BINARY, 'Select', 'Reverse', 'StridedSlice', 'AddN', 'Transpose']);
/** WebGPU's default maxStorageBuffersPerShaderStage, which tfjs does not raise: inputs + output. */
const MAX_STORAGE_BUFFERS = 8;
/** Kernels that only relabel the data's shape (no shader runs). */
const METADATA_ONLY = new Set(['Reshape', 'Identity']);

interface KernelCall {
  name: string;
  inputShapes: number[][];
}

/** Why a call of tfjs's own webgpu kernel is known to break on tfjs-webgpu 4.22, or null. */
function brokenOnWebGpu(k: KernelCall): string | null {
  const shapes = k.inputShapes.filter((s): s is number[] => Array.isArray(s));
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  if (BINARY.has(k.name) && rank >= 5) {
    const out = tf.backend_util.assertAndGetBroadcastShape(shapes[0], shapes[1]);
    if (shapes.some((s) => s.join(',') !== out.join(','))) return `rank-${rank} broadcasting ${k.name}`;
  }
  if (k.name === 'Transpose' && rank > 6) return `rank-${rank} Transpose`;
  if (k.name === 'Select' && rank > 4) return `rank-${rank} Select/Where`;
  if (k.name === 'Reverse' && rank > 4) return `rank-${rank} Reverse`;
  if (k.name === 'StridedSlice' && rank >= 5) return `rank-${rank} StridedSlice`;
  if (k.name === 'AddN' && shapes.length + 1 > MAX_STORAGE_BUFFERS) return `AddN of ${shapes.length} inputs`;
  if (rank > 6 && !METADATA_ONLY.has(k.name)) return `rank-${rank} ${k.name}`; // shaders index at most rank 6
  return null;
}

const heads: HeadSpec[] = [
  { dataset: 'a', name: 'x', labels: [1] },
  { dataset: 'a', name: 'y', labels: [2] },
  { dataset: 'b', name: 'z', labels: [1] },
];

function arch(deepSupervision: boolean, residual = false): ArchitectureSpec {
  return {
    name: 'audit',
    kind: residual ? 'resenc_unet' : 'unet',
    ...(residual ? { blocksPerStage: [1, 2, 1, 1] } : {}),
    patch: [8, 16, 16],
    features: [4, 8, 8, 12],
    strides: [
      [1, 1, 1],
      [1, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
    ],
    convsPerStage: residual ? 1 : 2,
    deepSupervision,
  };
}

async function audit(fn: () => Promise<unknown>): Promise<{ calls: KernelCall[]; broken: string[] }> {
  const forwarded: KernelCall[] = [];
  observeForwardedKernels((name, inputs) => forwarded.push({ name, inputShapes: inputs.map((t) => [...t.shape]) }));
  try {
    const info = await tf.profile(async () => {
      await fn();
      return [];
    });
    const direct = info.kernels.filter((k) => !WRAPPED.has(k.name)).map((k) => ({ name: k.name, inputShapes: k.inputShapes }));
    const calls = [...direct, ...forwarded];
    return { calls, broken: calls.map(brokenOnWebGpu).filter((r): r is string => r !== null) };
  } finally {
    observeForwardedKernels(undefined);
  }
}

describe('the audit rule and the axis merging of safe_kernels.ts', () => {
  it('merges axes that broadcast alike, and axes a transpose keeps together', () => {
    expect(mergeBroadcastAxes([[2, 4, 4, 4, 8], [8]], [2, 4, 4, 4, 8])).toEqual({ inputs: [[128, 8], [1, 8]], out: [128, 8] });
    expect(mergeBroadcastAxes([[2, 4, 4, 4, 8], []], [2, 4, 4, 4, 8])).toEqual({ inputs: [[1024], [1]], out: [1024] });
    expect(mergeBroadcastAxes([[2, 4, 4, 4, 8], [2, 1, 1, 1, 8]], [2, 4, 4, 4, 8])).toEqual({ inputs: [[2, 64, 8], [2, 1, 8]], out: [2, 64, 8] });
    expect(mergeBroadcastAxes([[1, 1], [1]], [1, 1])).toEqual({ inputs: [[1], [1]], out: [1] });
    expect(mergeTransposeAxes([2, 3, 4, 5, 6, 7, 8], [0, 1, 4, 5, 2, 3, 6])).toEqual({ shape: [6, 20, 42, 8], perm: [0, 2, 1, 3] });
    expect(mergeTransposeAxes([2, 3], [1, 0])).toEqual({ shape: [2, 3], perm: [1, 0] });
  });

  it('flags the known-broken configurations and passes safe ones', () => {
    expect(brokenOnWebGpu({ name: 'Add', inputShapes: [[2, 4, 4, 4, 8], [8]] })).toMatch(/broadcasting Add/);
    expect(brokenOnWebGpu({ name: 'Multiply', inputShapes: [[2, 4, 4, 4, 8], []] })).toMatch(/Multiply/);
    expect(brokenOnWebGpu({ name: 'Add', inputShapes: [[2, 4, 4, 4, 8], [2, 4, 4, 4, 8]] })).toBeNull();
    expect(brokenOnWebGpu({ name: 'Add', inputShapes: [[512, 8], [8]] })).toBeNull();
    expect(brokenOnWebGpu({ name: 'Transpose', inputShapes: [[1, 1, 1, 1, 1, 1, 1, 1]] })).toMatch(/Transpose/);
    expect(brokenOnWebGpu({ name: 'Select', inputShapes: [[1, 2, 2, 2, 1], [1, 2, 2, 2, 1], [1, 2, 2, 2, 1]] })).toMatch(/Select/);
    expect(brokenOnWebGpu({ name: 'AddN', inputShapes: Array.from({ length: 9 }, () => []) })).toMatch(/AddN of 9/);
    expect(brokenOnWebGpu({ name: 'AddN', inputShapes: [[], []] })).toBeNull();
    expect(brokenOnWebGpu({ name: 'StridedSlice', inputShapes: [[2, 4, 4, 4, 1]] })).toMatch(/StridedSlice/);
    expect(brokenOnWebGpu({ name: 'Tile', inputShapes: [[1, 2, 2, 2, 2, 2, 1]] })).toMatch(/rank-7 Tile/);
    expect(brokenOnWebGpu({ name: 'Reshape', inputShapes: [[64]] })).toBeNull(); // metadata only
  });
});

describe.skipIf(webgpuSkipReason)('tfjs kernels used on webgpu avoid tfjs-webgpu 4.22 defects', () => {
  beforeAll(() => registerWebGpuKernels());

  afterEach(() => setFusedOps('auto'));

  for (const [ds, residual, fused] of [
    [false, false, true],
    [true, false, true],
    [true, true, true],
    [false, false, false],
    [true, true, false],
  ]) {
    it(`a ${residual ? 'resenc_unet' : 'unet'} training step (deep supervision ${ds ? 'on' : 'off'}, ${fused ? 'fused WGSL ops' : 'plain tfjs ops'}) with clipping and the optimiser`, async () => {
      setFusedOps(fused ? 'auto' : 'off');
      const result = await onBackend('webgpu', async () => {
        const model = UNet.create(arch(ds, residual), heads, 1);
        const opt = createOptimizer({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
        const rng = new Prng(2);
        const image = tf.tensor5d(new Float32Array(2 * 8 * 16 * 16).map(() => rng.normal()), [2, 8, 16, 16, 1]);
        const targets = tf.tensor5d(new Float32Array(2 * 8 * 16 * 16 * 3).map(() => (rng.next() < 0.3 ? 1 : 0)), [2, 8, 16, 16, 3]);
        const mask = tf.tensor2d([1, 1, 0, 0, 0, 1], [2, 3]);
        try {
          // two steps: the first creates the momentum buffers, the second takes the steady-state path
          return await audit(async () => {
            await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 1);
            await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 1);
          });
        } finally {
          tf.dispose([image, targets, mask]);
          opt.dispose();
          model.dispose();
        }
      });
      expect(result.calls.length).toBeGreaterThan(20);
      expect(result.calls.some((c) => c.name === 'Conv3D')).toBe(true);
      expect(result.broken).toEqual([]);
    }, 300_000);
  }

  for (const [name, output] of [
    ['softmax', { activation: 'softmax', labels: [0, 1, 2] }],
    ['region (sigmoid)', { activation: 'sigmoid' }],
  ] as [string, OutputLayout][]) {
    it(`a dice_ce (${name}) training step with deep supervision and an AdamW (AMSGrad) update`, async () => {
      const loss = createLoss('dice_ce', { output, options: { batchDice: false } });
      const result = await onBackend('webgpu', async () => {
        const model = UNet.create(arch(true), heads, 1);
        const opt = createOptimizer({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 3e-5, amsgrad: true });
        const rng = new Prng(4);
        const image = tf.tensor5d(new Float32Array(2 * 8 * 16 * 16).map(() => rng.normal()), [2, 8, 16, 16, 1]);
        const onehot = new Float32Array(2 * 8 * 16 * 16 * 3);
        for (let i = 0; i < onehot.length / 3; i++) onehot[i * 3 + Math.min(2, Math.floor(rng.next() * 3))] = 1;
        const targets = tf.tensor5d(onehot, [2, 8, 16, 16, 3]);
        const mask = tf.ones([2, 3]) as tf.Tensor2D;
        try {
          return await audit(async () => {
            await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 1, true, loss);
            await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 1, true, loss);
          });
        } finally {
          tf.dispose([image, targets, mask]);
          opt.dispose();
          model.dispose();
        }
      });
      expect(result.calls.some((c) => c.name === 'Conv3D')).toBe(true);
      expect(result.broken).toEqual([]);
    }, 300_000);
  }

  it('sliding-window inference of a softmax output with mirroring', async () => {
    const result = await onBackend('webgpu', async () => {
      const model = UNet.create(arch(false), heads, 1);
      const rng = new Prng(5);
      const image = new Float32Array(9 * 17 * 16).map(() => rng.normal());
      try {
        return await audit(() => slidingWindowPredict(model, image, [9, 17, 16], { stepFraction: 0.5, gaussian: true, mirror: true, activation: 'softmax' }));
      } finally {
        model.dispose();
      }
    });
    expect(result.calls.some((c) => c.name === 'Softmax')).toBe(true);
    expect(result.broken).toEqual([]);
  }, 300_000);

  it('sliding-window inference with mirroring', async () => {
    const result = await onBackend('webgpu', async () => {
      const model = UNet.create(arch(false), heads, 1);
      const rng = new Prng(3);
      const image = new Float32Array(9 * 17 * 16).map(() => rng.normal());
      try {
        return await audit(() => slidingWindowPredict(model, image, [9, 17, 16], { stepFraction: 0.5, gaussian: true, mirror: true, heads: [1] }));
      } finally {
        model.dispose();
      }
    });
    expect(result.calls.some((c) => c.name === 'Reverse')).toBe(true);
    expect(result.broken).toEqual([]);
  }, 300_000);
});
