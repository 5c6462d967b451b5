// The cpu fast paths for GatherV2 (whole rows) and Transpose (matrix-like permutations) against
// tfjs's own kernels, which they replace only for those cases.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { installFastPaths, restoreOriginals, sameAsOriginal } from './fast_paths.js';

import { makeFastGatherKernel } from '../../../src/runtime/kernels/gather_kernel.js';
import { makeFastTransposeKernel, mergeTransposeAxes } from '../../../src/runtime/kernels/transpose_kernel.js';

let originals: Record<string, tf.KernelConfig> = {};

beforeAll(async () => {
  await tf.setBackend('cpu');
  originals = installFastPaths({ GatherV2: makeFastGatherKernel, Transpose: makeFastTransposeKernel });
});

afterAll(() => restoreOriginals(originals));

function same(fn: () => tf.Tensor, name: string): void {
  sameAsOriginal(fn, originals[name]);
}

describe('cpu GatherV2 fast path', () => {
  it('gathers whole rows like tfjs (the targets of a batch: a region table row per voxel)', () => {
    const table = tf.randomNormal([2 * 256, 3], 0, 1, 'float32', 1);
    const rows = tf.tensor1d(Array.from({ length: 4096 }, (_, i) => (i * 37) % 512), 'int32');
    same(() => tf.gather(table, rows), 'GatherV2');
    const wide = tf.randomNormal([10, 4, 6], 0, 1, 'float32', 2);
    same(() => tf.gather(wide, tf.tensor2d([[9, 0], [3, 3]], [2, 2], 'int32')), 'GatherV2');
  });

  it('leaves other axes, int32 tensors and bad indices to tfjs', () => {
    const x = tf.randomNormal([5, 7], 0, 1, 'float32', 3);
    same(() => tf.gather(x, tf.tensor1d([6, 1], 'int32'), 1), 'GatherV2');
    same(() => tf.gather(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), tf.tensor1d([1, 0], 'int32')), 'GatherV2');
    expect(() => tf.gather(x, tf.tensor1d([5], 'int32')).dataSync()).toThrow();
  });
});

describe('cpu Transpose fast path', () => {
  it('merges neighbouring axes and drops size-1 axes', () => {
    expect(mergeTransposeAxes([2, 8, 8, 8, 3], [4, 0, 1, 2, 3])).toEqual({ shape: [1024, 3], perm: [1, 0] });
    expect(mergeTransposeAxes([4, 1, 5], [0, 2, 1])).toEqual({ shape: [20], perm: [0] });
    expect(mergeTransposeAxes([2, 3, 4, 5], [0, 3, 1, 2])).toEqual({ shape: [2, 12, 5], perm: [0, 2, 1] });
    expect(mergeTransposeAxes([2, 3, 4], [2, 0, 1])).toEqual({ shape: [6, 4], perm: [1, 0] });
    expect(mergeTransposeAxes([2, 3, 4], [1, 0, 2])).toEqual({ shape: [2, 3, 4], perm: [1, 0, 2] });
  });

  it('equals tfjs for matrix-like, batched, identity and general permutations', () => {
    const x = tf.randomNormal([2, 5, 6, 7, 3], 0, 1, 'float32', 4);
    for (const perm of [[4, 0, 1, 2, 3], [0, 4, 1, 2, 3], [1, 2, 3, 4, 0], [0, 1, 2, 3, 4], [2, 0, 4, 1, 3], [0, 2, 1, 3, 4]]) {
      same(() => tf.transpose(x, perm), 'Transpose');
    }
    same(() => tf.transpose(tf.randomNormal([33, 65], 0, 1, 'float32', 5)), 'Transpose');
    same(() => tf.transpose(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32')), 'Transpose');
  });

  it('gives tfjs Sum over leading axes its result (the validation counts)', () => {
    const x = tf.randomUniform([2, 8, 8, 8, 4], 0, 1, 'float32', 6);
    same(() => tf.sum(x, [0, 1, 2, 3]), 'Transpose');
  });
});
