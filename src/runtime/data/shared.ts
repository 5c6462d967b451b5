/**
 * Cases on shared memory: voxel arrays backed by SharedArrayBuffers, so that worker threads (the
 * training batch loader) read them without a copy. Preprocessing returns its cases this way.
 */
import type { PreprocessedCase } from './types.js';

function shared<T extends Float32Array | Uint8Array | Uint32Array>(a: T, make: (b: SharedArrayBuffer) => T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const copy = make(new SharedArrayBuffer(a.byteLength));
  copy.set(a as never);
  return copy;
}

/** True when the case's image, label and class voxel lists all live on SharedArrayBuffers. */
export function isOnSharedMemory(c: Pick<PreprocessedCase, 'image' | 'label' | 'classVoxels'>): boolean {
  return [c.image, c.label, ...Object.values(c.classVoxels)].every((a) => a.buffer instanceof SharedArrayBuffer);
}

/** The case with its arrays on SharedArrayBuffers: itself when they already are, else a copy of the arrays. */
export function onSharedMemory(c: PreprocessedCase): PreprocessedCase {
  if (isOnSharedMemory(c)) return c;
  const classVoxels: Record<string, Uint32Array> = {};
  for (const [k, v] of Object.entries(c.classVoxels)) classVoxels[k] = shared(v, (b) => new Uint32Array(b));
  return { ...c, image: shared(c.image, (b) => new Float32Array(b)), label: shared(c.label, (b) => new Uint8Array(b)), classVoxels };
}
