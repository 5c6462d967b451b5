// The cpu fast path for Reverse (test-time mirroring's flips) against tfjs's own kernel: every
// mirroring of a tile, size-1 and negative axes, int32 and bool tensors, scalars and empty tensors,
// and the gradient through it.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeFastReverseKernel, mergeReverseAxes } from '../../../src/runtime/kernels/reverse_kernel.js';
import { MIRROR_AXES } from '../../../src/runtime/infer/sliding-window.js';
import { installCounted, sameAsOriginal, type CountedFastPath } from './fast_paths.js';

/** The fast path, counting the calls it passes on to tfjs's own kernel (outside its case). */
let path: CountedFastPath;

beforeAll(async () => {
  await tf.setBackend('cpu');
  path = installCounted('Reverse', makeFastReverseKernel);
});

afterAll(() => path.restore());

function same(fn: () => tf.Tensor): void {
  sameAsOriginal(fn, path.original);
}

describe('cpu Reverse fast path', () => {
  it("gives tfjs's result for every mirroring of an NDHWC tile, one and several channels", () => {
    for (const shape of [
      [2, 5, 6, 7, 1],
      [1, 4, 3, 6, 3],
    ] as const) {
      const x = tf.randomNormal([...shape], 0, 1, 'float32', 3);
      path.deferred = 0;
      for (const axes of MIRROR_AXES) same(() => tf.reverse(x, axes));
      expect(path.deferred).toBe(0); // the fast path ran every time
      same(() => tf.reverse(x, [0, 4]));
      same(() => tf.reverse(x, [-1, -4]));
      x.dispose();
    }
  });

  it('handles size-1 axes, rank 1, int32 and bool, scalars and empty tensors', () => {
    const v = tf.range(0, 24, 1, 'float32');
    same(() => tf.reverse(v));
    same(() => tf.reverse(v.reshape([1, 4, 1, 6]), [0, 2]));
    same(() => tf.reverse(v.reshape([1, 4, 1, 6]), [1, 2, 3]));
    const i = tf.range(0, 30, 1, 'int32').reshape([5, 6]);
    same(() => tf.reverse(i, 1));
    const b = tf.greater(tf.range(0, 30, 1, 'float32').reshape([3, 10]).mod(4), 1.5);
    same(() => tf.reverse(b, [0, 1]));
    same(() => tf.reverse(tf.scalar(3)));
    same(() => tf.reverse(tf.zeros([0, 4]), 1));
    tf.dispose([v, i, b]);
  });

  it('differentiates as a reversal (the gradient reverses the upstream gradient)', () => {
    const x = tf.randomNormal([2, 3, 4, 5, 2], 0, 1, 'float32', 5);
    const w = tf.randomNormal([2, 3, 4, 5, 2], 0, 1, 'float32', 6);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.reverse(t, [1, 3]), w)))(x);
    const want = tf.reverse(w, [1, 3]);
    expect(Array.from(g.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([x, w, g, want]);
  });

  it('merges neighbouring axes that are reversed alike, dropping size-1 axes', () => {
    expect(mergeReverseAxes([1, 32, 32, 32, 2], [1, 2, 3])).toEqual({ shape: [32768, 2], reversed: [true, false] });
    expect(mergeReverseAxes([2, 32, 32, 32, 2], [3])).toEqual({ shape: [2048, 32, 2], reversed: [false, true, false] });
    expect(mergeReverseAxes([4, 1, 5], [0, 1, 2])).toEqual({ shape: [20], reversed: [true] });
    expect(mergeReverseAxes([1, 1], [0])).toEqual({ shape: [], reversed: [] });
  });
});
