// The cpu fast path for StridedSlice (deep supervision's downsampled targets) against tfjs's own
// kernel, for every kind of slice tfjs accepts: strides on several axes, negative strides, masks,
// new and shrunk axes, int32 and bool tensors, empty results.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeFastStridedSliceKernel, stridedGather } from '../../../src/runtime/kernels/strided_slice_kernel.js';
import { downsampleTargets } from '../../../src/runtime/loss/deep-supervision.js';
import { installCounted, sameAsOriginal, type CountedFastPath } from './fast_paths.js';

/** The fast path, counting the calls it passes on to tfjs's own kernel (outside its case). */
let path: CountedFastPath;

beforeAll(async () => {
  await tf.setBackend('cpu');
  path = installCounted('StridedSlice', makeFastStridedSliceKernel);
});

afterAll(() => path.restore());

function same(fn: () => tf.Tensor): void {
  sameAsOriginal(fn, path.original);
}

describe('cpu StridedSlice fast path', () => {
  it("downsamples deep supervision's targets exactly as tfjs does", () => {
    const t = tf.randomUniform([2, 8, 6, 10, 3], 0, 1, 'float32', 7) as tf.Tensor5D;
    path.deferred = 0;
    tf.dispose(downsampleTargets(t, [2, 2, 2]));
    expect(path.deferred).toBe(0); // the fast path ran
    same(() => downsampleTargets(t, [2, 2, 2]));
    same(() => downsampleTargets(t, [1, 2, 4]));
    same(() => downsampleTargets(t, [4, 4, 4]));
    // A wide last axis takes the block-copy branch.
    const wide = tf.randomUniform([2, 4, 4, 4, 40], 0, 1, 'float32', 8) as tf.Tensor5D;
    same(() => downsampleTargets(wide, [2, 2, 2]));
    t.dispose();
    wide.dispose();
  });

  it('matches tfjs for offsets, negative strides, masks, new and shrunk axes', () => {
    const x = tf.range(0, 7 * 9 * 5, 1, 'float32').reshape([7, 9, 5]);
    same(() => tf.stridedSlice(x, [1, 2, 0], [7, 9, 5], [2, 3, 2]));
    same(() => tf.stridedSlice(x, [6, 8, 4], [0, 0, 0], [-2, -3, -1]));
    same(() => tf.stridedSlice(x, [-1, 0, 1], [-8, 9, 5], [-1, 2, 1]));
    same(() => tf.stridedSlice(x, [3, 0, 0], [0, 0, 0], [1, 2, 2], 0b110, 0b111)); // begin/end masks
    same(() => tf.stridedSlice(x, [2, 0, 1], [3, 9, 5], [1, 2, 2], 0, 0, 0, 0, 0b001)); // shrink axis 0
    same(() => tf.stridedSlice(x, [0, 0, 0, 1], [1, 7, 9, 5], [1, 2, 2, 2], 0, 0, 0, 0b0001)); // new axis 0
    same(() => tf.stridedSlice(x, [0, 1], [0, 5], [1, 2], 0, 0, 0b01)); // ellipsis
    same(() => tf.stridedSlice(x, [2, 2, 2], [2, 8, 5], [1, 2, 1])); // empty
    x.dispose();
  });

  it('handles int32 and bool tensors, and leaves contiguous slices to tfjs', () => {
    const i = tf.range(0, 60, 1, 'int32').reshape([6, 10]);
    same(() => tf.stridedSlice(i, [1, 1], [6, 10], [2, 3]));
    const b = tf.greater(tf.range(0, 60, 1, 'float32').reshape([6, 10]).mod(3), 0.5);
    same(() => tf.stridedSlice(b, [0, 1], [6, 10], [1, 2]));
    path.deferred = 0;
    same(() => tf.stridedSlice(i, [2, 0], [5, 10], [1, 1])); // rows only: tfjs's contiguous slice
    expect(path.deferred).toBe(1);
    tf.dispose([i, b]);
  });

  it('stridedGather reads x[loc * strides + begin] in output order', () => {
    const x = Float32Array.from({ length: 24 }, (_, k) => k); // [2, 3, 4]
    const out = stridedGather(x, [2, 3, 4], [2, 2, 2], [1, 2, -2], [0, 0, 3], new Float32Array(8));
    expect(Array.from(out)).toEqual([3, 1, 11, 9, 15, 13, 23, 21]);
  });
});
