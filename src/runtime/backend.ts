import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { prepareWebGpu, watchDeviceErrors } from './webgpu/dawn.js';

/**
 * Selects and initialises the TensorFlow.js backend every runtime module computes on.
 *
 * - `tensorflow`: the native TensorFlow binding (`@tensorflow/tfjs-node-gpu`, else `@tensorflow/tfjs-node`);
 *   optional packages, absent in the default install.
 * - `wasm`: `@tensorflow/tfjs-backend-wasm` (SIMD when the runtime supports it).
 * - `cpu`: tfjs's JavaScript backend; native conv3d kernels from src/runtime/kernels register into it.
 * - `webgpu`: tfjs-backend-webgpu on Dawn (the optional `webgpu` package), with the project's WGSL
 *   kernels (src/runtime/webgpu). Never chosen by `auto`: ask for it explicitly.
 * - `auto`: `tensorflow` when installed, else `cpu`. On this project's 3D U-Nets the cpu backend measured
 *   faster than wasm for a full training step (wasm's Conv3D and its gradients are not vectorised and run
 *   single-threaded in Node); see bench/step-tfjs.ts to re-measure.
 */
export type BackendChoice = 'auto' | 'cpu' | 'wasm' | 'tensorflow' | 'webgpu';

/** Order `auto` tries backends in, fastest first, by measurement on bench/step-tfjs.ts. */
const AUTO_ORDER: readonly Exclude<BackendChoice, 'auto' | 'webgpu'>[] = ['tensorflow', 'cpu', 'wasm'];

let quieted = false;

/**
 * Silences tfjs's own console chatter (the "Hi there, install tfjs-node" banner of the cpu backend and
 * its other warnings), which would otherwise corrupt the plain and JSON renderers' output. tfjs routes
 * these through its logger, which is muted in production mode; production mode changes nothing else.
 */
export function quietTfjs(): void {
  if (quieted) return;
  tf.enableProdMode();
  quieted = true;
}

async function importOptional(name: string): Promise<boolean> {
  try {
    // A computed specifier keeps TypeScript from resolving these optional, usually absent packages.
    await import(name);
    return true;
  } catch {
    return false;
  }
}

async function initTensorflow(): Promise<string | null> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    if (await importOptional(pkg)) {
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return 'tensorflow';
      }
    }
  }
  return null;
}

/** Folder holding the wasm backend's .wasm binaries, as a path prefix ending in a separator. */
function wasmBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return join(dirname(pkg), 'dist') + '/';
}

async function initWasm(): Promise<string | null> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch {
    return null;
  }
  wasm.setWasmPaths(wasmBinaryFolder());
  try {
    if (!(await tf.setBackend('wasm'))) return null;
    await tf.ready();
  } catch {
    return null;
  }
  return 'wasm';
}

let webgpuFailure = '';

async function initWebgpu(): Promise<string | null> {
  const probe = await prepareWebGpu();
  if (!probe.ok) {
    webgpuFailure = probe.reason;
    return null;
  }
  try {
    if (!(await tf.setBackend('webgpu'))) {
      webgpuFailure = 'tfjs could not create its webgpu backend on this adapter';
      return null;
    }
    await tf.ready();
    watchDeviceErrors((tf.backend() as unknown as { device?: unknown }).device);
  } catch (e) {
    webgpuFailure = (e as Error).message;
    return null;
  }
  return 'webgpu';
}

async function initCpu(): Promise<string | null> {
  if (!(await tf.setBackend('cpu'))) return null;
  await tf.ready();
  return 'cpu';
}

const INSTALL_HINT: Record<Exclude<BackendChoice, 'auto'>, string> = {
  tensorflow:
    "backend 'tensorflow' needs the native TensorFlow binding: install it with `npm install --save-exact @tensorflow/tfjs-node@4.22.0` (or @tensorflow/tfjs-node-gpu@4.22.0 for CUDA GPUs)",
  wasm: "backend 'wasm' needs @tensorflow/tfjs-backend-wasm: install it with `npm install --save-exact @tensorflow/tfjs-backend-wasm@4.22.0`",
  webgpu: "backend 'webgpu' is unavailable",
  cpu: "backend 'cpu' could not be initialised: reinstall @tensorflow/tfjs (`npm install --save-exact @tensorflow/tfjs@4.22.0`)",
};

async function tryInit(name: Exclude<BackendChoice, 'auto'>): Promise<string | null> {
  switch (name) {
    case 'tensorflow':
      return initTensorflow();
    case 'wasm':
      return initWasm();
    case 'cpu':
      return initCpu();
    case 'webgpu':
      return initWebgpu();
  }
}

/**
 * Makes `preferred` (or, for `auto`, the fastest available backend) the active tfjs backend and returns
 * its name. Throws with an install hint when an explicitly requested backend is unavailable.
 */
export async function initBackend(preferred: BackendChoice): Promise<string> {
  quietTfjs();
  if (preferred === 'auto') {
    for (const name of AUTO_ORDER) {
      const got = await tryInit(name);
      if (got) return got;
    }
    throw new Error(`no TensorFlow.js backend could be initialised; ${INSTALL_HINT.cpu}`);
  }
  const got = await tryInit(preferred);
  if (!got) throw new Error(preferred === 'webgpu' ? `${INSTALL_HINT.webgpu}: ${webgpuFailure}` : INSTALL_HINT[preferred]);
  return got;
}

/**
 * Why training cannot run on `backend`, or null when it can. tfjs-backend-wasm 4.22 computes wrong
 * conv3d gradients (Conv3DBackpropInputV2 always, Conv3DBackpropFilterV2 for strides > 1; checked
 * against the cpu backend), so it is fit for inference only.
 */
export function trainingUnsupportedReason(backend: string): string | null {
  if (backend === 'wasm') {
    return "the 'wasm' backend (tfjs-backend-wasm 4.22) computes wrong conv3d gradients, so it cannot train; use --backend cpu (or tensorflow with @tensorflow/tfjs-node installed). It is fine for inference.";
  }
  return null;
}

/**
 * The backend `initBackend(choice)` will pick, without initialising anything (for `--dry-run`'s
 * cache keys): the choice itself, or for `auto` `tensorflow` when its binding is installed, else `cpu`.
 */
export function expectedBackend(choice: BackendChoice): string {
  if (choice !== 'auto') return choice;
  const require = createRequire(import.meta.url);
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
      return 'tensorflow';
    } catch {
      // not installed
    }
  }
  return 'cpu';
}
