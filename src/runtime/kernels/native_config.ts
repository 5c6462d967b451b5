// Which instruction-set build and how many threads the native kernels use, and the FMA peak
// estimate benchmarks compare against. The build is chosen from cpuid when the addon loads
// (avx512 > avx2 > generic); MTC_CONV3D_ISA=avx512|avx2|generic asks for one at load time and
// selectNativeIsa switches at run time (tests run every build the machine can execute).
import { loadNativeConv3d, type FmaPeakProbe, type NativeConv3dAddon, type NativeIsa } from './native_addon.js';

export type { NativeIsa };

const ISAS: readonly NativeIsa[] = ['avx512', 'avx2', 'generic'];

export function isNativeIsa(name: string): name is NativeIsa {
  return (ISAS as readonly string[]).includes(name);
}

function addon(): NativeConv3dAddon | undefined {
  return loadNativeConv3d().addon;
}

/** The builds this CPU can run, best first ([] without the addon; ['current'] for an addon without the API). */
export function nativeIsas(): NativeIsa[] {
  const a = addon();
  if (!a) return [];
  const info = a.info();
  return info.isas ?? (isNativeIsa(info.isa) ? [info.isa] : []);
}

/** The build in use, or undefined without the addon. */
export function currentNativeIsa(): NativeIsa | undefined {
  const isa = addon()?.info().isa;
  return isa !== undefined && isNativeIsa(isa) ? isa : undefined;
}

/**
 * The numerics class of the native build in use, for stage keys: `fma` (the avx512 and avx2 builds,
 * bit-identical to each other), `generic` (no FMA: differs in the last bits), or undefined without
 * the addon (tfjs's own kernels).
 */
export function nativeNumericsClass(): 'fma' | 'generic' | undefined {
  const isa = currentNativeIsa();
  return isa === undefined ? undefined : isa === 'generic' ? 'generic' : 'fma';
}

/** Switches every native kernel to `isa`; throws, naming the builds available, when it cannot run here. */
export function selectNativeIsa(isa: NativeIsa): void {
  const a = addon();
  if (!a?.setIsa) throw new Error('the native kernels are not built (or predate run-time build selection): run `node scripts/build-native.mjs`');
  const available = nativeIsas();
  if (!available.includes(isa)) {
    throw new Error(`the native kernels' ${isa} build cannot run here (this CPU lacks its instructions, or the compiler could not build it); available: ${available.join(', ')}`);
  }
  a.setIsa(isa);
}

/** Resizes the native kernels' thread pool (0: the default, MTC_CONV3D_THREADS or the usable CPUs). */
export function setNativeThreads(n: number): void {
  const a = addon();
  if (!a?.setThreads) throw new Error('the native kernels are not built (or predate thread control): run `node scripts/build-native.mjs`');
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new Error(`thread count must be an integer 0..256, got ${n}`);
  a.setThreads(n);
}

/**
 * Which results the native kernels reproduce, for a run's record: the build and thread count in use,
 * and that results are bit-identical whatever the thread count and between the avx512 and avx2
 * builds (both fuse multiply-adds and sum in the same order), while the generic build (no FMA)
 * differs from them in the last bits. Undefined without the addon.
 */
export function nativeNumerics(): string | undefined {
  const a = addon();
  if (!a) return undefined;
  const info = a.info();
  const reproducible = info.isa === 'generic'
    ? 'results bit-identical for any thread count; the avx512 and avx2 builds (with FMA) differ from this one in the last bits'
    : 'results bit-identical for any thread count and between the avx512 and avx2 builds; the generic build differs in the last bits';
  return `${info.isa} build, ${info.threads} thread${info.threads === 1 ? '' : 's'}; ${reproducible}`;
}

export interface PeakEstimate {
  /** Estimated fp32 FMA peak of the active build on all kernel threads, wall clock, GFLOP/s. */
  gflops: number;
  /**
   * The same chains when every FMA takes one broadcast memory operand, as the kernels' tiles of a
   * single vector of output channels do (16 channels in the avx512 build): the most such layers
   * can reach here. Absent with an addon that predates the probe.
   */
  broadcastGflops?: number;
  /**
   * The same per second of the probe threads' own CPU time: what the cores do while they run. Well
   * above `gflops` means other load shared the cores during the probe (and during the benchmark).
   */
  cpuGflops: number;
  isa: string;
  threads: number;
  /** How the figure was obtained, for printing next to it. */
  method: string;
}

/**
 * The fp32 FMA peak of the active build, measured: every kernel thread runs 12 independent FMA
 * chains of the build's widest vector (enough to hide the FMA latency on current x86 cores) for
 * `ms` milliseconds at once; the best of `probes` probes counts, since other load only lowers it.
 * Undefined without the addon.
 */
export function estimateFmaPeak(probes = 5, ms = 100): PeakEstimate | undefined {
  const a = addon();
  if (!a?.fmaPeak) return undefined;
  let best: FmaPeakProbe | undefined;
  let bestCpu = 0;
  for (let i = 0; i < probes; i++) {
    const p = a.fmaPeak(ms);
    if (!best || p.gflops > best.gflops) best = p;
    bestCpu = Math.max(bestCpu, p.cpuGflops ?? 0);
  }
  if (!best) return undefined;
  let broadcast = 0;
  try {
    for (let i = 0; i < probes; i++) {
      const p = a.fmaPeak(ms, 'broadcast');
      if (p.broadcast !== true) break;
      broadcast = Math.max(broadcast, p.gflops);
    }
  } catch {
    // An addon built before the broadcast probe takes one argument only: the peak stands alone.
    broadcast = 0;
  }
  const width = best.lanes * 32;
  return {
    gflops: best.gflops,
    ...(broadcast > 0 ? { broadcastGflops: broadcast } : {}),
    cpuGflops: bestCpu,
    isa: best.isa,
    threads: best.threads,
    method: `measured: ${best.threads} thread${best.threads === 1 ? '' : 's'} x ${best.chains} independent ${width}-bit FMA chains (${best.isa} build), best of ${probes} probes of ${ms} ms`,
  };
}
