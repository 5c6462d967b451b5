// Registration of the project's WGSL kernels in tfjs's kernel registry for backend 'webgpu'.
import * as tf from '@tensorflow/tfjs';
import { makeWebGpuConv3dKernels } from './conv3d.js';
import { makeWebGpuFusedKernels } from './fused_kernels.js';
import { makeSafeWebGpuKernels } from './safe_kernels.js';

let registered = false;
const originals = new Map<string, tf.KernelConfig>();

/** Replaces a webgpu kernel, keeping tfjs's own for unregisterWebGpuKernels. */
export function replaceWebGpuKernel(config: tf.KernelConfig): void {
  const existing = tf.getKernel(config.kernelName, 'webgpu');
  if (existing) {
    if (!originals.has(config.kernelName)) originals.set(config.kernelName, existing);
    tf.unregisterKernel(config.kernelName, 'webgpu');
  }
  tf.registerKernel(config);
}

/** tfjs's own webgpu kernel that `name` replaced (undefined when none was replaced). */
export function originalWebGpuKernel(name: string): tf.KernelConfig | undefined {
  return originals.get(name) ?? tf.getKernel(name, 'webgpu');
}

/**
 * Registers every project kernel for webgpu: the tiled implicit-GEMM Conv3D and its two gradients,
 * the fused ops' kernels (./fused_kernels.ts: norm, layout, residual, the sigmoid losses), and the
 * wrappers that keep tfjs's own kernels out of their broken configurations (./safe_kernels.ts).
 * Idempotent.
 */
export function registerWebGpuKernels(): void {
  if (registered) return;
  const safe = makeSafeWebGpuKernels((name) => tf.getKernel(name, 'webgpu'));
  for (const config of [...makeWebGpuConv3dKernels(), ...makeWebGpuFusedKernels(), ...safe]) replaceWebGpuKernel(config);
  registered = true;
}

/** Restores tfjs's own webgpu kernels (tests compare both). */
export function unregisterWebGpuKernels(): void {
  for (const [name, config] of originals) {
    if (tf.getKernel(name, 'webgpu')) tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(config);
  }
  originals.clear();
  registered = false;
}
