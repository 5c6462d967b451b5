import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { concatChannels, convUnit, pointwise, residualAct, upsample } from '../../../src/runtime/model/layers.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import type { Vec3 } from '../../../src/graph/types.js';
import { maxAbsDiff } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => setFusedOps('auto'));

/** Value and gradients of sum(f(inputs) * r) for a fixed random r, with fused ops on or off. */
function valueAndGrads(mode: 'on' | 'off', f: (xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed: number) {
  setFusedOps(mode);
  return tf.tidy(() => {
    const out = f(inputs);
    const r = tf.randomNormal(out.shape, 0, 1, 'float32', seed);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(xs), r)))(inputs);
    return { out: tf.keep(out.clone()), grads: g.map((t) => tf.keep(t)) };
  });
}

function expectSame(f: (xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], tol = 2e-4) {
  const a = valueAndGrads('on', f, inputs, 3);
  const b = valueAndGrads('off', f, inputs, 3);
  expect(a.out.shape).toEqual(b.out.shape);
  expect(maxAbsDiff(a.out, b.out)).toBeLessThan(tol);
  a.grads.forEach((g, i) => {
    expect(g.shape).toEqual(b.grads[i].shape);
    expect(maxAbsDiff(g, b.grads[i])).toBeLessThan(tol);
  });
  tf.dispose([a.out, b.out, ...a.grads, ...b.grads]);
}

describe('fused ops equal the plain tfjs composition (values and gradients)', () => {
  it('residual block end: LeakyReLU(a + b)', () => {
    const a = tf.randomNormal([2, 3, 4, 5, 6], 0, 1, 'float32', 11);
    const b = tf.randomNormal([2, 3, 4, 5, 6], 0, 1, 'float32', 12);
    expectSame(([x, y]) => residualAct(x as tf.Tensor5D, y as tf.Tensor5D), [a, b]);
    tf.dispose([a, b]);
  });

  it('conv unit: conv + bias + InstanceNorm + LeakyReLU, strided', () => {
    const x = tf.randomNormal([2, 4, 6, 4, 3], 0, 1, 'float32', 1);
    const w = tf.randomNormal([3, 3, 3, 3, 5], 0, 0.3, 'float32', 2);
    const b = tf.randomNormal([5], 0, 1, 'float32', 3);
    const s = tf.randomNormal([5], 1, 0.2, 'float32', 4);
    const o = tf.randomNormal([5], 0, 0.5, 'float32', 5);
    const stride: Vec3 = [1, 2, 2];
    expectSame(([xi, wi, bi, si, oi]) => convUnit(xi as tf.Tensor5D, wi as tf.Tensor5D, bi as tf.Tensor1D, si as tf.Tensor1D, oi as tf.Tensor1D, stride), [x, w, b, s, o]);
  });

  it('channel concatenation', () => {
    const a = tf.randomNormal([2, 2, 3, 2, 3], 0, 1, 'float32', 6);
    const b = tf.randomNormal([2, 2, 3, 2, 2], 0, 1, 'float32', 7);
    expectSame(([ai, bi]) => concatChannels(ai as tf.Tensor5D, bi as tf.Tensor5D), [a, b]);
  });

  it('pointwise (1x1x1) conv', () => {
    const x = tf.randomNormal([2, 2, 2, 3, 4], 0, 1, 'float32', 8);
    const w = tf.randomNormal([1, 1, 1, 4, 3], 0, 1, 'float32', 9);
    const b = tf.randomNormal([3], 0, 1, 'float32', 10);
    expectSame(([xi, wi, bi]) => pointwise(xi as tf.Tensor5D, wi as tf.Tensor5D, bi as tf.Tensor1D), [x, w, b]);
  });

  for (const stride of [
    [2, 2, 2],
    [1, 2, 2],
    [2, 1, 3],
  ] as Vec3[]) {
    it(`upsample (kernel = stride ${stride.join('x')})`, () => {
      const x = tf.randomNormal([2, 2, 3, 2, 4], 0, 1, 'float32', 11);
      const w = tf.randomNormal([...stride, 3, 4], 0, 1, 'float32', 12);
      const b = tf.randomNormal([3], 0, 1, 'float32', 13);
      expectSame(([xi, wi, bi]) => upsample(xi as tf.Tensor5D, wi as tf.Tensor5D, bi as tf.Tensor1D, stride), [x, w, b]);
    });
  }
});

describe('upsample is a kernel=stride transposed convolution', () => {
  for (const mode of ['on', 'off'] as const) {
    it(`matches tf.conv3dTranspose forward (fused ${mode})`, () => {
      setFusedOps(mode);
      const stride: Vec3 = [1, 2, 2];
      const x = tf.randomNormal([1, 3, 2, 3, 4], 0, 1, 'float32', 21) as tf.Tensor5D;
      const w = tf.randomNormal([...stride, 2, 4], 0, 1, 'float32', 22) as tf.Tensor5D;
      const b = tf.tensor1d([0.5, -1]);
      const ours = upsample(x, w, b, stride);
      const ref = tf.add(tf.conv3dTranspose(x, w, [1, 3, 4, 6, 2], stride, 'valid'), b);
      expect(ours.shape).toEqual([1, 3, 4, 6, 2]);
      expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-4);
      tf.dispose([x, w, b, ours, ref]);
    });
  }
});

describe('instance norm', () => {
  it('normalises each sample and channel over space (mean 0, biased variance 1) before the affine', () => {
    setFusedOps('on');
    const x = tf.randomNormal([2, 3, 3, 3, 2], 5, 3, 'float32', 31) as tf.Tensor5D;
    const w = tf.zeros([1, 1, 1, 2, 2]).add(tf.eye(2).reshape([1, 1, 1, 2, 2])) as tf.Tensor5D; // identity conv
    const y = convUnit(x, w.pad([[1, 1], [1, 1], [1, 1], [0, 0], [0, 0]]) as tf.Tensor5D, tf.zeros([2]), tf.ones([2]), tf.zeros([2]), [1, 1, 1]);
    // LeakyReLU keeps positives: check the positive part is consistent with unit variance via re-normalising the pre-activation.
    const { mean, variance } = tf.moments(tf.where(tf.greater(y, 0), y, tf.div(y, 0.01)), [1, 2, 3]);
    expect(maxAbsDiff(mean, tf.zeros([2, 2]))).toBeLessThan(1e-4);
    expect(maxAbsDiff(variance, tf.ones([2, 2]))).toBeLessThan(1e-3);
  });
});

describe('fused conv unit at vectorised channel counts, with native and JavaScript element-wise kernels', () => {
  for (const host of ['auto', 'js'] as const) {
    it(`16 channels, ${host === 'js' ? 'JavaScript' : 'default'} kernels`, async () => {
      const { setHostKernels } = await import('../../../src/runtime/kernels/host_ops.js');
      setHostKernels(host);
      try {
        const x = tf.randomNormal([2, 6, 5, 4, 8], 0, 1, 'float32', 41);
        const w = tf.randomNormal([3, 3, 3, 8, 16], 0, 0.3, 'float32', 42);
        const b = tf.randomNormal([16], 0, 1, 'float32', 43);
        const s = tf.randomNormal([16], 1, 0.2, 'float32', 44);
        const o = tf.randomNormal([16], 0, 0.5, 'float32', 45);
        expectSame(([xi, wi, bi, si, oi]) => convUnit(xi as tf.Tensor5D, wi as tf.Tensor5D, bi as tf.Tensor1D, si as tf.Tensor1D, oi as tf.Tensor1D, [1, 1, 1]), [x, w, b, s, o], 5e-4);
      } finally {
        setHostKernels('auto');
      }
    });
  }
});
