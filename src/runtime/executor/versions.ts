/** The versions a run records (lock.json) and its stage keys hash. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { StageKind } from '../../graph/types.js';
import { CACHE_CODE_VERSION } from '../data/cache/cache.js';
import { nativeNumericsClass } from '../kernels/native_config.js';

let cached: { name: string; version: string } | null = null;

/** This package's name and version (package.json at the package root, from src/ and dist/ alike). */
export function packageInfo(): { name: string; version: string } {
  cached ??= JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return { name: cached.name, version: cached.version };
}

/** The TensorFlow.js version the runtime computes with. */
export function tfjsVersion(): string {
  return tf.version.tfjs;
}

/**
 * Per stage kind, the version of the code that produces its outputs: bump one when that stage's
 * results change for the same inputs and parameters, so that cached entries stop matching.
 * Preprocessing also carries the preprocessing cache's code version.
 */
export const STAGE_CODE: Record<StageKind, string> = {
  prepare: 'prepare-1',
  preprocess: `preprocess-1/${CACHE_CODE_VERSION}`,
  train: 'train-1',
  finetune: 'train-1',
  evaluate: 'evaluate-1',
  report: 'report-1',
};

/** Stage kinds whose results depend on the tfjs backend (they compute with tensors). */
export const TENSOR_STAGES: ReadonlySet<StageKind> = new Set(['train', 'finetune', 'evaluate']);

/**
 * What, besides the backend, decides a tensor stage's bits: on the cpu backend the native kernels'
 * numerics class (`native-fma`: the avx512 and avx2 builds, bit-identical; `native-generic`; or
 * `tfjs` without the native kernels), so a stage trained with one class is never served to a run
 * that would compute other bits. Null for the other backends (one kernel set each).
 */
export function backendNumerics(backend: string): string | null {
  if (backend !== 'cpu') return null;
  const c = nativeNumericsClass();
  return c === undefined ? 'tfjs' : `native-${c}`;
}
