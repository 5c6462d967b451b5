import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec } from '../../../src/graph/types.js';

export function tinyArch(overrides: Partial<ArchitectureSpec> = {}): ArchitectureSpec {
  return {
    name: 'tiny',
    kind: 'unet',
    patch: [8, 8, 8],
    features: [2, 4],
    strides: [
      [1, 1, 1],
      [2, 2, 2],
    ],
    convsPerStage: 2,
    ...overrides,
  };
}

export function heads(n: number, dataset = 'a'): HeadSpec[] {
  return Array.from({ length: n }, (_, i) => ({ dataset, name: `c${i}`, labels: [i + 1] }));
}

export function maxAbsDiff(a: tf.Tensor | Float32Array, b: tf.Tensor | Float32Array): number {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  if (x.length !== y.length) throw new Error(`length ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** A SwinUNETR of MONAI's topology at a small feature size (the compiler's spec for `kind swin_unetr`). */
export function swinArch(patch: [number, number, number] = [64, 32, 32], featureSize = 12): ArchitectureSpec {
  return {
    name: 'swin',
    kind: 'swin_unetr',
    patch,
    features: [featureSize, featureSize, 2 * featureSize, 4 * featureSize, 8 * featureSize, 16 * featureSize],
    strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]],
    convsPerStage: 2,
    deepSupervision: false,
    swin: { featureSize, depths: [2, 2, 2, 2], heads: [3, 6, 12, 24], window: [7, 7, 7] },
  };
}
