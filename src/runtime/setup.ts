import { type BackendChoice, initBackend, quietTfjs } from './backend.js';
import { registerFastCpuKernels } from './kernels/index.js';
import { nativeNumerics } from './kernels/native_config.js';
import { prepareWebGpu } from './webgpu/dawn.js';
import { registerWebGpuKernels } from './webgpu/register.js';

export type { BackendChoice };

export interface RuntimeInfo {
  backend: string;
  /**
   * One line for the run header, e.g. `cpu + native kernels (avx512 build, 2 threads; results
   * bit-identical for any thread count and between the avx512 and avx2 builds; ...)`.
   */
  description: string;
  nativeKernels: boolean;
}

/**
 * Prepares TensorFlow.js for a run: silences its console banner, registers the project's native
 * conv3d kernels for the cpu backend when the addon was built (and its WGSL kernels for webgpu),
 * and initialises the backend.
 */
export async function initRuntime(choice: BackendChoice): Promise<RuntimeInfo> {
  quietTfjs();
  const kernels = registerFastCpuKernels();
  const backend = await initBackend(choice);
  const nativeKernels = backend === 'cpu' && kernels.native;
  let description = backend;
  if (backend === 'cpu') {
    description = kernels.native
      ? `cpu + native kernels (${nativeNumerics() ?? 'build unknown'})`
      : `cpu (tfjs kernels only: ${kernels.reason ?? 'native addon unavailable'})`;
  } else if (backend === 'webgpu') {
    registerWebGpuKernels();
    const probe = await prepareWebGpu();
    const adapter = probe.ok ? probe.adapter : undefined;
    description = `webgpu + WGSL kernels on ${adapter?.description ?? 'an unknown adapter'}${adapter?.software ? ' (software emulation: for correctness only, not speed)' : ''}`;
  }
  return { backend, description, nativeKernels };
}
