import { initBackend, quietTfjs } from './backend.js';
import { registerFastCpuKernels } from './kernels/index.js';

export type BackendChoice = 'auto' | 'cpu' | 'wasm' | 'tensorflow';

export interface RuntimeInfo {
  backend: string;
  /** One line for the run header, e.g. `cpu + native conv3d (avx2, 2 threads)`. */
  description: string;
  nativeKernels: boolean;
}

/**
 * Prepares TensorFlow.js for a run: silences its console banner, registers the project's native
 * conv3d kernels for the cpu backend when the addon was built, and initialises the backend.
 */
export async function initRuntime(choice: BackendChoice): Promise<RuntimeInfo> {
  quietTfjs();
  const kernels = registerFastCpuKernels();
  const backend = await initBackend(choice);
  const nativeKernels = backend === 'cpu' && kernels.native;
  const description = backend === 'cpu'
    ? kernels.native
      ? 'cpu + native conv3d kernels'
      : `cpu (tfjs kernels only: ${kernels.reason ?? 'native addon unavailable'})`
    : backend;
  return { backend, description, nativeKernels };
}
