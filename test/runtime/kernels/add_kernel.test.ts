import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFastAddKernel } from '../../../src/runtime/kernels/add_kernel.js';

let original: tf.KernelConfig | undefined;

beforeAll(async () => {
  await tf.setBackend('cpu');
  original = tf.getKernel('Add', 'cpu');
  if (!original) throw new Error('tfjs cpu has no Add kernel');
  tf.unregisterKernel('Add', 'cpu');
  tf.registerKernel(makeFastAddKernel(original));
});

afterAll(() => {
  tf.unregisterKernel('Add', 'cpu');
  if (original) tf.registerKernel(original);
});

function reference(a: tf.Tensor, b: tf.Tensor): Float32Array {
  const av = a.dataSync();
  const bv = b.dataSync();
  return Float32Array.from(av, (v, i) => v + bv[i]);
}

describe("fast cpu 'Add' kernel", () => {
  it('adds same-shape float32 tensors exactly (fast path)', () => {
    const a = tf.randomNormal([2, 8, 8, 8, 16], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 8, 8, 8, 16], 0, 1, 'float32', 2);
    const y = tf.add(a, b);
    expect(y.shape).toEqual(a.shape);
    expect(Array.from(y.dataSync())).toEqual(Array.from(reference(a, b)));
    tf.dispose([a, b, y]);
  });

  it('defers broadcasting, small and int32 adds to tfjs', () => {
    const a = tf.randomNormal([4, 3], 0, 1, 'float32', 3);
    const b = tf.tensor1d([1, 2, 3]);
    expect(Array.from(tf.add(a, b).dataSync())).toEqual(Array.from(a.dataSync(), (v, i) => Math.fround(v + [1, 2, 3][i % 3])));
    expect(Array.from(tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).dataSync())).toEqual([4, 6]);
    expect(tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).dtype).toBe('int32');
  });

  it('gives the same gradients as before (Add is its own backward sum)', () => {
    const x = tf.randomNormal([2, 4, 4, 4, 64], 0, 1, 'float32', 4);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.add(t, t), t)))(x);
    expect(Math.max(...Array.from(tf.sub(g, tf.mul(x, 4)).abs().dataSync()))).toBeLessThan(1e-5);
  });
});
