import * as tf from '@tensorflow/tfjs';

/**
 * WebGPU in Node.js through Dawn (the optional `webgpu` package), and tfjs's webgpu backend on top.
 *
 * Node 20 has no `navigator.gpu`; Dawn's `create()` makes one, and its `globals` (GPUBufferUsage,
 * GPUMapMode, ...) are the constants tfjs-backend-webgpu reads from the global scope. The backend
 * package registers itself at import time only when `navigator.gpu` exists, so it is imported after.
 *
 * Any Vulkan driver Dawn accepts works: the NVIDIA driver on a GPU machine, or Mesa's lavapipe (a
 * software Vulkan device, `mesa-vulkan-drivers` >= 24) on a machine without a GPU, which is how the
 * tests check the WGSL kernels against the cpu backend.
 */

export interface WebGpuAdapterInfo {
  /** e.g. `nvidia hopper (NVIDIA H100 80GB HBM3)` or `mesa software (llvmpipe ...)`. */
  description: string;
  /** True for a CPU-emulated adapter (lavapipe): correct, but timings mean nothing. */
  software: boolean;
  features: string[];
}

export type WebGpuInit = { ok: true; adapter: WebGpuAdapterInfo } | { ok: false; reason: string };

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

interface AdapterLike {
  features: Iterable<string>;
  info?: { vendor?: string; architecture?: string; description?: string; device?: string };
}

interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

let probe: Promise<WebGpuInit> | undefined;

const NO_ADAPTER_HINT =
  'Dawn found no WebGPU adapter. On an NVIDIA machine the Vulkan loader (libvulkan1) and the driver\'s Vulkan ICD must be installed; ' +
  'without a GPU, Mesa\'s software Vulkan driver works for testing (Debian: `apt-get install -t bookworm-backports mesa-vulkan-drivers`, version 24 or newer).';

async function loadDawn(): Promise<DawnModule | string> {
  try {
    // A computed specifier: `webgpu` is an optional dependency and may be absent.
    const name = 'webgpu';
    return (await import(name)) as DawnModule;
  } catch (e) {
    return `the optional package 'webgpu' (Dawn for Node.js) is not installed or failed to load (${(e as Error).message}); install it with \`npm install --save-exact webgpu@0.6.2\``;
  }
}

function describe(adapter: AdapterLike): WebGpuAdapterInfo {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture].filter((s) => s && s.length > 0).join(' ');
  const detail = info.description || info.device || '';
  const software = /software|llvmpipe|lavapipe|swiftshader/i.test(`${info.architecture} ${detail}`);
  return {
    description: detail ? `${parts || 'webgpu'} (${detail})` : parts || 'webgpu adapter',
    software,
    features: [...adapter.features].sort(),
  };
}

async function doInit(): Promise<WebGpuInit> {
  const dawn = await loadDawn();
  if (typeof dawn === 'string') return { ok: false, reason: dawn };
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const nav = (g.navigator ?? {}) as { gpu?: GpuLike };
  if (!nav.gpu) {
    // Dawn prints driver warnings on stderr while it enumerates adapters; they are informational.
    // MTC_DAWN_FLAGS passes Dawn options through, space-separated, e.g.
    // `enable-dawn-features=disable_robustness,disable_workgroup_init` to time without bounds checks.
    const gpu = dawn.create((process.env.MTC_DAWN_FLAGS ?? '').split(/\s+/).filter((f) => f.length > 0));
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else g.navigator = { gpu };
  }
  const gpu = (g.navigator as { gpu: GpuLike }).gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { ok: false, reason: NO_ADAPTER_HINT };
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu failed to load: ${(e as Error).message}` };
  }
  if (!tf.findBackendFactory('webgpu')) return { ok: false, reason: 'tfjs-backend-webgpu did not register its backend (navigator.gpu missing?)' };
  return { ok: true, adapter: describe(adapter) };
}

/**
 * Makes tfjs's `webgpu` backend available (without switching to it). Memoised; never throws: the
 * reason is returned when WebGPU is unavailable.
 */
export function prepareWebGpu(): Promise<WebGpuInit> {
  probe ??= doInit();
  return probe;
}

interface DeviceLike {
  addEventListener?(type: 'uncapturederror', listener: (e: { error?: { message?: string } }) => void): void;
}

const deviceErrors: string[] = [];
const watched = new WeakSet<object>();

/**
 * Records the device's uncaptured errors (an invalid shader or pipeline, a binding over the
 * device's limits). WebGPU reports these asynchronously and otherwise just skips the work, so a
 * wrong result would go unnoticed; the training step checks `takeDeviceErrors` and stops instead.
 */
export function watchDeviceErrors(device: unknown): void {
  const d = device as DeviceLike | null;
  if (!d || watched.has(d) || typeof d.addEventListener !== 'function') return;
  watched.add(d);
  d.addEventListener('uncapturederror', (e) => {
    if (deviceErrors.length < 20) deviceErrors.push(e.error?.message?.split('\n')[0] ?? 'unknown WebGPU error');
  });
}

/** The device errors recorded since the last call (empty when none). */
export function takeDeviceErrors(): string[] {
  return deviceErrors.splice(0, deviceErrors.length);
}
