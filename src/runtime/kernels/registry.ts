// Registration state of the native conv3d kernels in tfjs's kernel registry.
import * as tf from '@tensorflow/tfjs';

import { makeFastAddKernel } from './add_kernel.js';
import { makeFastGatherKernel } from './gather_kernel.js';
import { makeFastReverseKernel } from './reverse_kernel.js';
import { makeFastStridedSliceKernel } from './strided_slice_kernel.js';
import { makeFastTransposeKernel } from './transpose_kernel.js';
import { CONV3D_KERNEL_NAMES, type Conv3dKernelName, makeNativeConv3dKernels } from './conv3d_kernels.js';
import { loadNativeConv3d, type NativeConv3dAddon, type NativeConv3dInfo } from './native_addon.js';

export interface FastKernelsStatus {
  /** True when the native kernels are registered for backend 'cpu'. */
  native: boolean;
  /** Why the native kernels are not in use (only when native is false). */
  reason?: string;
}

interface Registered {
  addon: NativeConv3dAddon;
  originals: Record<Conv3dKernelName, tf.KernelConfig>;
  /** tfjs's own kernels that the fast paths below replace (restored on unregister). */
  replaced: tf.KernelConfig[];
}

let registered: Registered | undefined;

/**
 * tfjs cpu kernels with a fast path of ours for the common case, deferring to tfjs's own kernel
 * (passed in) for everything else: same-shape Add, whole-row GatherV2, matrix-like Transpose, strided
 * StridedSlice, numeric Reverse.
 */
const FAST_PATHS: Record<string, (original: tf.KernelConfig) => tf.KernelConfig> = {
  Add: makeFastAddKernel,
  GatherV2: makeFastGatherKernel,
  Transpose: makeFastTransposeKernel,
  StridedSlice: makeFastStridedSliceKernel,
  Reverse: makeFastReverseKernel,
};

function replace(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

/**
 * Registers the native conv3d kernels for backend 'cpu'. Idempotent. When the
 * addon is missing or fails to load, tfjs is left untouched and the reason is
 * returned. Never throws.
 */
export function registerFastCpuKernels(): FastKernelsStatus {
  if (registered) return { native: true };
  const load = loadNativeConv3d();
  if (!load.addon) return { native: false, reason: load.reason };

  const originals: Partial<Record<Conv3dKernelName, tf.KernelConfig>> = {};
  for (const name of CONV3D_KERNEL_NAMES) {
    const original = tf.getKernel(name, 'cpu');
    if (!original) {
      return { native: false, reason: `tfjs has no '${name}' kernel for backend 'cpu' (is @tensorflow/tfjs loaded?)` };
    }
    originals[name] = original;
  }
  const complete = originals as Record<Conv3dKernelName, tf.KernelConfig>;
  for (const config of makeNativeConv3dKernels(load.addon, complete)) replace(config);
  const replaced: tf.KernelConfig[] = [];
  for (const [name, make] of Object.entries(FAST_PATHS)) {
    const original = tf.getKernel(name, 'cpu');
    if (!original) continue;
    replaced.push(original);
    replace(make(original));
  }
  registered = { addon: load.addon, originals: complete, replaced };
  return { native: true };
}

/** Restores tfjs's own conv3d kernels (no-op when the native ones are not registered). */
export function unregisterFastCpuKernels(): void {
  if (!registered) return;
  for (const name of CONV3D_KERNEL_NAMES) replace(registered.originals[name]);
  for (const original of registered.replaced) replace(original);
  registered = undefined;
}

/** True while the native kernels are registered. */
export function fastCpuKernelsActive(): boolean {
  return registered !== undefined;
}

/** tfjs's original kernel configs, captured at registration (undefined when not registered). */
export function originalCpuConv3dKernels(): Readonly<Record<Conv3dKernelName, tf.KernelConfig>> | undefined {
  return registered?.originals;
}

/** ISA and thread count of the registered addon. */
export function nativeConv3dInfo(): NativeConv3dInfo | undefined {
  return registered?.addon.info();
}
