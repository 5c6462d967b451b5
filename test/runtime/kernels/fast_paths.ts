// Shared by the tests of the cpu fast paths (kernels that replace a tfjs kernel for its common case
// and defer to it otherwise): install them in place of tfjs's kernels, run a computation with
// tfjs's own kernel instead, and check that both give the same tensor bit for bit.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

export type FastPathMaker = (original: tf.KernelConfig) => tf.KernelConfig;

/** Registers make(original) in place of each named cpu kernel; returns the originals, by name. */
export function installFastPaths(makers: Record<string, FastPathMaker>): Record<string, tf.KernelConfig> {
  const originals: Record<string, tf.KernelConfig> = {};
  for (const [name, make] of Object.entries(makers)) {
    const original = tf.getKernel(name, 'cpu');
    if (!original) throw new Error(`tfjs cpu has no ${name} kernel`);
    originals[name] = original;
    tf.unregisterKernel(name, 'cpu');
    tf.registerKernel(make(original));
  }
  return originals;
}

/** A fast path installed by installCounted: tfjs's kernel it replaces, and how often it deferred to it. */
export interface CountedFastPath {
  original: tf.KernelConfig;
  /** Calls passed on to tfjs's own kernel (outside the fast path's case); tests set it to 0 and read it. */
  deferred: number;
  restore(): void;
}

/** Installs make(original) in place of one cpu kernel, counting the calls it passes on to the original. */
export function installCounted(name: string, make: FastPathMaker): CountedFastPath {
  const originals = installFastPaths({
    [name]: (original) => make({ ...original, kernelFunc: (args) => (counted.deferred++, original.kernelFunc(args)) }),
  });
  const counted: CountedFastPath = { original: originals[name], deferred: 0, restore: () => restoreOriginals(originals) };
  return counted;
}

/** Puts tfjs's own kernels back. */
export function restoreOriginals(originals: Record<string, tf.KernelConfig>): void {
  for (const original of Object.values(originals)) {
    tf.unregisterKernel(original.kernelName, 'cpu');
    tf.registerKernel(original);
  }
}

/** fn computed with tfjs's own kernel in place of the fast path registered under its name. */
export function withOriginal<T>(original: tf.KernelConfig, fn: () => T): T {
  const fast = tf.getKernel(original.kernelName, 'cpu')!;
  tf.unregisterKernel(original.kernelName, 'cpu');
  tf.registerKernel(original);
  try {
    return fn();
  } finally {
    tf.unregisterKernel(original.kernelName, 'cpu');
    tf.registerKernel(fast);
  }
}

/** fn gives the same shape, dtype and values with the fast path as with tfjs's own kernel. */
export function sameAsOriginal(fn: () => tf.Tensor, original: tf.KernelConfig): void {
  const fast = fn();
  const ref = withOriginal(original, fn);
  expect(fast.shape).toEqual(ref.shape);
  expect(fast.dtype).toBe(ref.dtype);
  expect(Array.from(fast.dataSync())).toEqual(Array.from(ref.dataSync()));
  tf.dispose([fast, ref]);
}
