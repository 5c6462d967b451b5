// Shared setup for the WebGPU tests: Dawn plus tfjs-backend-webgpu, on a GPU or on Mesa's software
// Vulkan driver (lavapipe). `.ci/run` installs the latter; without any adapter the tests skip and say why.
import * as tf from '@tensorflow/tfjs';

import { initBackend } from '../../../src/runtime/backend.js';
import { prepareWebGpu } from '../../../src/runtime/webgpu/dawn.js';

const probe = await prepareWebGpu();
// As the runtime does (device error watch included), then back to cpu: tests choose explicitly.
if (probe.ok) {
  await initBackend('webgpu');
  // Small tensors would otherwise be computed on the CPU by tfjs-webgpu (its 'CPU hand-off' of
  // inputs still in host memory): the tests must exercise the GPU programs. (The flag exists only
  // once the webgpu backend is loaded, so without an adapter there is nothing to set.)
  tf.env().set('WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD', 0);
}
await tf.setBackend('cpu');

/** Why the WebGPU tests cannot run here, or undefined when they can. */
export const webgpuSkipReason: string | undefined = probe.ok ? undefined : probe.reason;

if (webgpuSkipReason) {
  console.warn(`WebGPU tests skipped: ${webgpuSkipReason}`);
}

/** Runs `fn` with `backend` active, restoring the previous backend afterwards. */
export async function onBackend<T>(backend: 'cpu' | 'webgpu', fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    return await fn();
  } finally {
    if (previous && previous !== backend) await tf.setBackend(previous);
  }
}

/** Values of a tensor computed on `backend` from host arrays (the inputs are uploaded there). */
export async function readOn(t: tf.Tensor): Promise<Float32Array> {
  const v = await t.data();
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/** Largest |a - b| / (1 + |b|) over all elements. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}
