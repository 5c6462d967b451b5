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
