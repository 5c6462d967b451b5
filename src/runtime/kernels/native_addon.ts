// Locates and loads the optional native conv3d addon built by
// scripts/build-native.mjs (native/build/mtc_conv3d.node).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Binding surface of native/conv3d/addon.cpp. Outputs are preallocated by the caller. */
export interface NativeConv3dAddon {
  forward(x: Float32Array, filter: Float32Array, params: Int32Array, y: Float32Array): void;
  backpropInput(dy: Float32Array, filter: Float32Array, params: Int32Array, dx: Float32Array): void;
  backpropFilter(x: Float32Array, dy: Float32Array, params: Int32Array, dw: Float32Array): void;
  /** Float32Array(n) from a native buffer pool (contents unspecified; reused after GC). */
  alloc(n: number): Float32Array;
  info(): NativeConv3dInfo;
  /** Fused element-wise kernels (native/conv3d/normact*.cpp); absent in addons built before them. */
  normActForward?(
    x: Float32Array, scale: Float32Array, offset: Float32Array, B: number, N: number, C: number,
    eps: number, slope: number, y: Float32Array, mean: Float32Array, rstd: Float32Array,
  ): void;
  normActBackward?(
    x: Float32Array, y: Float32Array, dy: Float32Array, scale: Float32Array, mean: Float32Array, rstd: Float32Array,
    B: number, N: number, C: number, slope: number,
    dx: Float32Array, dbias: Float32Array, dscale: Float32Array, doffset: Float32Array,
  ): void;
  lossStats?(z: Float32Array, g: Float32Array, B: number, N: number, C: number, stats: Float64Array): void;
  lossGrad?(z: Float32Array, g: Float32Array, coef: Float32Array, B: number, N: number, C: number, dz: Float32Array): void;
  /** Switches the instruction-set build (throws when the CPU cannot run it); absent in older addons. */
  setIsa?(isa: NativeIsa): void;
  /** Resizes the kernels' thread pool (0: the default count). */
  setThreads?(n: number): void;
  /**
   * FMA throughput probe: every pool thread runs the build's FMA loop for about `ms` ms; with
   * 'broadcast', the same chains with one broadcast memory operand per FMA (`broadcast: true` in
   * the result; an addon built before that probe throws a RangeError for the second argument).
   */
  fmaPeak?(ms: number, kind?: 'broadcast'): FmaPeakProbe;
  /** Optimiser kernels (native/conv3d/optim*.cpp), over every parameter tensor at once. */
  sgdStep?(
    w: Float32Array[], g: Float32Array[], buf: Float32Array[], out: Float32Array[], first: Uint8Array,
    lr: number, momentum: number, nesterov: boolean, weightDecay: number,
  ): void;
  adamwStep?(
    w: Float32Array[], g: Float32Array[], m: Float32Array[], v: Float32Array[], vmax: Float32Array[] | null, out: Float32Array[],
    bc1: Float64Array, bc2: Float64Array, lr: number, beta1: number, beta2: number, eps: number, decay: number,
  ): void;
  sumSquares?(x: Float32Array[]): number;
  scaleArrays?(x: Float32Array[], coef: number, out: Float32Array[]): void;
  /** Layout and bias kernels of the fused ops (native/conv3d/layout.cpp). */
  concatChannels?(a: Float32Array, b: Float32Array, n: number, Ca: number, Cb: number, out: Float32Array): void;
  splitChannels?(g: Float32Array, n: number, Ca: number, Cb: number, ga: Float32Array, gb: Float32Array): void;
  addBias?(x: Float32Array, bias: Float32Array, n: number, C: number, out: Float32Array): void;
  columnSums?(x: Float32Array, n: number, C: number, out: Float32Array): void;
  depthToSpaceBias?(
    x: Float32Array, bias: Float32Array, B: number, D: number, H: number, W: number, sz: number, sy: number, sx: number, C: number, out: Float32Array,
  ): void;
  depthToSpaceBiasGrad?(
    dy: Float32Array, B: number, D: number, H: number, W: number, sz: number, sy: number, sx: number, C: number, dx: Float32Array, dbias: Float32Array,
  ): void;
  residualAct?(a: Float32Array, b: Float32Array, slope: number, out: Float32Array): void;
  /** out = a + b, multi-threaded. */
  add?(a: Float32Array, b: Float32Array, out: Float32Array): void;
  residualActGrad?(y: Float32Array, g: Float32Array, slope: number, dz: Float32Array): void;
}

/** The instruction-set builds of the native kernels. */
export type NativeIsa = 'avx512' | 'avx2' | 'generic';

export interface NativeConv3dInfo {
  /** Instruction-set build in use: chosen from cpuid at load ('avx512', 'avx2' or 'generic'), MTC_CONV3D_ISA or setIsa. */
  isa: string;
  threads: number;
  /** Builds this CPU can run, best first (absent in addons built before AVX-512 support). */
  isas?: NativeIsa[];
  /** float lanes of the build's widest vector. */
  lanes?: number;
}

export interface FmaPeakProbe {
  /** Aggregate wall-clock rate of all threads, GFLOP/s (2 per FMA lane). */
  gflops: number;
  /** Sum over threads of each thread's rate per second of its own CPU time (insensitive to other load). */
  cpuGflops: number;
  threads: number;
  lanes: number;
  /** Independent FMA chains per thread. */
  chains: number;
  ms: number;
  isa: string;
  /** True when the chains took broadcast memory operands (`fmaPeak(ms, 'broadcast')`). */
  broadcast?: boolean;
}

export type AddonLoad =
  | { addon: NativeConv3dAddon; path: string }
  | { addon?: undefined; path: string; reason: string };

/**
 * Path of the addon. src/runtime/kernels and dist/runtime/kernels are both
 * three levels below the package root, so one relative URL serves both.
 * MTC_NATIVE_CONV3D overrides it.
 */
export function nativeConv3dPath(): string {
  const override = process.env.MTC_NATIVE_CONV3D;
  if (override) return override;
  return fileURLToPath(new URL('../../../native/build/mtc_conv3d.node', import.meta.url));
}

function isAddon(value: unknown): value is NativeConv3dAddon {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['forward', 'backpropInput', 'backpropFilter', 'alloc', 'info'].every((k) => typeof v[k] === 'function');
}

/** Loads the addon; never throws. MTC_DISABLE_NATIVE=1 forces the tfjs kernels. */
export function loadNativeConv3d(): AddonLoad {
  const path = nativeConv3dPath();
  if (process.env.MTC_DISABLE_NATIVE === '1') return { path, reason: 'disabled by MTC_DISABLE_NATIVE=1' };
  if (!existsSync(path)) {
    return { path, reason: `native addon not built (${path} missing; run \`node scripts/build-native.mjs\`)` };
  }
  try {
    const loaded: unknown = createRequire(import.meta.url)(path);
    if (!isAddon(loaded)) return { path, reason: `${path} does not export the conv3d kernel API` };
    return { addon: loaded, path };
  } catch (e) {
    return { path, reason: `failed to load ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
