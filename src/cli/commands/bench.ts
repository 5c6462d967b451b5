import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchConv3d } from '../../runtime/kernels/bench.js';
import { estimateFmaPeak, isNativeIsa, nativeIsas, selectNativeIsa, type PeakEstimate } from '../../runtime/kernels/native_config.js';
import { nativeConv3dInfo } from '../../runtime/kernels/registry.js';
import { initRuntime, type BackendChoice } from '../../runtime/setup.js';
import { defaultResidualBlocks, measureStep, median } from '../../runtime/train/measure-step.js';
import { resencStepFlops, unetStepFlops } from '../../runtime/train/step-flops.js';
import type { Vec3 } from '../../graph/types.js';
import { UserError, type CliIO } from '../io.js';

/** Options of `mtc bench conv3d|step` as commander passes them (strings, flags). */
export interface BenchOptions {
  /** conv3d: B,D,H,W,C */
  shape?: string;
  filters?: string;
  kernel?: string;
  stride?: string;
  /** step */
  arch?: string;
  /** resenc_unet: residual blocks per encoder stage, comma-separated. */
  blocks?: string;
  patch?: string;
  batch?: string;
  classes?: string;
  features?: string;
  backend?: string;
  json?: boolean;
  compare?: boolean;
  /** Timed repetitions per round (default 5) and interleaved rounds (default 1, 3 with --compare). */
  repeats?: string;
  rounds?: string;
  /** Instruction-set build of the native kernels (avx512, avx2, generic); PyTorch is capped to it. */
  isa?: string;
}

/** One benchmark figure; the JSON form of a result line. */
export interface BenchResult {
  name: string;
  backend: string;
  /** Median milliseconds. */
  ms: number;
  /** Steps: median process CPU milliseconds (every thread; other load hardly moves it). */
  cpu_ms?: number;
  gflops: number;
  parameters?: number;
  /** tfjs ms / PyTorch ms, with --compare. */
  ratio_to_pytorch?: number;
  /** conv3d on the native kernels: the estimated fp32 FMA peak (GFLOP/s), how it was found, and the fraction of it reached. */
  peak_gflops?: number;
  peak_method?: string;
  /** conv3d: the rate of the same FMA chains with one broadcast memory operand per FMA (see native_config.ts). */
  broadcast_fma_gflops?: number;
  fraction_of_peak?: number;
}

const BACKENDS = ['auto', 'cpu', 'wasm', 'tensorflow', 'webgpu'] as const;

/** A comma-separated list of positive integers (exactly `count` when given), else a UserError. */
export function ints(text: string | undefined, what: string, count?: number): number[] {
  const parts = (text ?? '').split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (!text || values.some((v) => !Number.isInteger(v) || v <= 0) || (count !== undefined && values.length !== count)) {
    throw new UserError(`--${what} must be ${count ?? 'a list of'} comma-separated positive integers, got '${text ?? ''}'`);
  }
  return values;
}

/** One positive integer, `fallback` when absent (required when there is none). */
export function int(text: string | undefined, what: string, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new UserError(`--${what} is required`);
    return fallback;
  }
  return ints(text, what, 1)[0];
}

function backendOf(options: BenchOptions): BackendChoice {
  const b = options.backend ?? 'cpu';
  if (!(BACKENDS as readonly string[]).includes(b)) throw new UserError(`--backend must be one of ${BACKENDS.join(', ')}, got '${b}'`);
  return b as BackendChoice;
}

/** bench/pytorch_reference.py: two levels above dist/cli/commands and src/cli/commands. */
export function pytorchReferencePath(): string {
  return fileURLToPath(new URL('../../../bench/pytorch_reference.py', import.meta.url));
}

/** The Python interpreter with torch (and a CUDA device when `cuda`), or why there is none. */
export function findTorch(io: CliIO, cuda: boolean): { python: string } | { reason: string } {
  const python = io.env.MTC_PYTHON ?? '/usr/bin/python3';
  if (!existsSync(pytorchReferencePath())) return { reason: `${pytorchReferencePath()} is missing` };
  const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  if (r.status !== 0) return { reason: `${python} has no torch (apt-get install -y python3-torch)` };
  if (cuda && spawnSync(python, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'], { stdio: 'ignore' }).status !== 0) {
    return { reason: `${python}'s torch sees no CUDA device to compare the GPU backend with (set MTC_PYTHON to a CUDA build)` };
  }
  return { python };
}

/**
 * PyTorch's instruction-set cap for the build the native kernels run: none on the machine's best
 * build; with a lower one (MTC_CONV3D_ISA=avx2 or --isa avx2 on an AVX-512 machine), oneDNN's and
 * ATen's dispatch capped to the same, so both sides are measured as on a machine without AVX-512.
 */
export function pytorchIsaEnv(current: string | undefined, best: string | undefined): Record<string, string> {
  if (!current || current === best) return {};
  if (current === 'avx2') return { DNNL_MAX_CPU_ISA: 'AVX2', ATEN_CPU_CAPABILITY: 'avx2' };
  if (current === 'generic') return { DNNL_MAX_CPU_ISA: 'SSE41', ATEN_CPU_CAPABILITY: 'default' };
  return {};
}

export function runPytorch(python: string, args: string[]): BenchResult {
  const env = { ...process.env, ...pytorchIsaEnv(nativeConv3dInfo()?.isa, nativeIsas()[0]) };
  const r = spawnSync(python, [pytorchReferencePath(), ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env });
  if (r.status !== 0) throw new UserError(`bench/pytorch_reference.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as BenchResult;
}

/** Threads the native kernels use (PyTorch gets the same). */
export function threadCount(io: CliIO): number {
  return nativeConv3dInfo()?.threads ?? (Number(io.env.MTC_CONV3D_THREADS) || 2);
}

interface Plan {
  /** One tfjs measurement (median ms of `repeats`). */
  tfjs: (repeats: number) => Promise<BenchResult>;
  /** Arguments of bench/pytorch_reference.py for the same case. */
  pytorchArgs: string[];
}

function conv3dPlan(options: BenchOptions, peak?: PeakEstimate): Plan {
  const shape = ints(options.shape, 'shape', 5) as [number, number, number, number, number];
  const filters = int(options.filters, 'filters');
  const kernel = int(options.kernel, 'kernel', 3);
  const stride = int(options.stride, 'stride', 1);
  return {
    tfjs: async (repeats) => {
      const r: BenchResult = await benchConv3d({ shape, filters, kernel, stride, repeats, warmup: 1 });
      return peak && r.backend.includes('mtc-native')
        ? {
            ...r, peak_gflops: peak.gflops, peak_method: peak.method, fraction_of_peak: r.gflops / peak.gflops,
            ...(peak.broadcastGflops !== undefined ? { broadcast_fma_gflops: peak.broadcastGflops } : {}),
          }
        : r;
    },
    pytorchArgs: ['conv3d', '--shape', shape.join(','), '--filters', String(filters), '--kernel', String(kernel), '--stride', String(stride)],
  };
}

function stepPlan(options: BenchOptions): Plan {
  const arch = options.arch ?? 'unet';
  if (arch !== 'unet' && arch !== 'resenc_unet') {
    throw new UserError(`--arch ${arch}: 'mtc bench step' measures the U-Nets ('unet', 'resenc_unet'), whose FLOPs and PyTorch step it knows`);
  }
  const patch = ints(options.patch ?? '32,32,32', 'patch', 3) as Vec3;
  const batch = int(options.batch, 'batch', 2);
  const classes = int(options.classes, 'classes');
  const features = ints(options.features ?? '16,32,64,128', 'features');
  const residual = arch === 'resenc_unet';
  const blocks = residual ? (options.blocks ? ints(options.blocks, 'blocks', features.length) : defaultResidualBlocks(features.length)) : undefined;
  const flops = blocks ? resencStepFlops(features, blocks, classes, batch, patch) : unetStepFlops(features, classes, batch, patch);
  const blockText = blocks ? ` blocks [${blocks.join(',')}]` : '';
  return {
    tfjs: async (repeats) => {
      const m = await measureStep({ mode: 'train', arch, blocks, patch, features, batch, heads: classes, repeats, warmup: 1 });
      const native = m.backend === 'cpu' && nativeConv3dInfo();
      return {
        name: `step ${arch} patch ${patch.join('x')} batch ${batch} features [${features.join(',')}]${blockText} classes ${classes}`,
        backend: native ? `tfjs-cpu+mtc-native(${native.isa},${native.threads}t)` : `tfjs-${m.backend}`,
        ms: m.medianMs,
        cpu_ms: m.medianCpuMs,
        gflops: flops / (m.medianMs * 1e6),
        parameters: m.parameters,
      };
    },
    pytorchArgs: [
      'step', '--arch', arch, '--patch', patch.join(','), '--batch', String(batch), '--classes', String(classes), '--features', features.join(','),
      ...(blocks ? ['--blocks', blocks.join(',')] : []),
    ],
  };
}

/** Runs a plan for `rounds` interleaved rounds (tfjs, then PyTorch) and takes medians of the round medians. */
async function execute(plan: Plan, options: BenchOptions, io: CliIO, backend: string): Promise<{ tfjs: BenchResult; pytorch?: BenchResult; note?: string }> {
  const repeats = int(options.repeats, 'repeats', 5);
  let python: string | undefined;
  let note: string | undefined;
  if (options.compare) {
    const t = findTorch(io, backend === 'webgpu');
    if ('python' in t) python = t.python;
    else note = `--compare skipped: ${t.reason}`;
  }
  const rounds = int(options.rounds, 'rounds', python ? 3 : 1);
  const ours: BenchResult[] = [];
  const theirs: BenchResult[] = [];
  for (let r = 0; r < rounds; r++) {
    ours.push(await plan.tfjs(repeats));
    if (python) {
      // A GPU backend is compared with PyTorch on CUDA in strict fp32 (TF32 off).
      const device = backend === 'webgpu' ? ['--device', 'cuda'] : [];
      const args = [...plan.pytorchArgs, '--repeats', String(repeats), '--threads', String(threadCount(io)), ...device];
      theirs.push(runPytorch(python, args));
    }
  }
  const merge = (rs: BenchResult[]): BenchResult => {
    const ms = median(rs.map((x) => x.ms));
    const gflops = (rs[0].gflops * rs[0].ms) / ms;
    const peak = rs[0].peak_gflops;
    const cpu = rs.every((x) => x.cpu_ms !== undefined) ? { cpu_ms: median(rs.map((x) => x.cpu_ms as number)) } : {};
    return { ...rs[0], ms, ...cpu, gflops, ...(peak ? { fraction_of_peak: gflops / peak } : {}) };
  };
  const tfjs = merge(ours);
  const pytorch = theirs.length > 0 ? merge(theirs) : undefined;
  if (pytorch) tfjs.ratio_to_pytorch = tfjs.ms / pytorch.ms;
  return { tfjs, pytorch, note };
}

function line(r: BenchResult): string {
  const ratio = r.ratio_to_pytorch !== undefined ? `  ${r.ratio_to_pytorch.toFixed(2)}x PyTorch` : '';
  const params = r.parameters !== undefined ? `  ${r.parameters} params` : '';
  const peak = r.fraction_of_peak !== undefined ? `  ${(100 * r.fraction_of_peak).toFixed(0)}% of peak` : '';
  const cpu = r.cpu_ms !== undefined ? ` (${r.cpu_ms.toFixed(1)} ms CPU)` : '';
  return `${r.name}  ${r.backend}  ${r.ms.toFixed(1)} ms${cpu}  ${r.gflops.toFixed(1)} GFLOP/s${peak}${params}${ratio}`;
}

/** Selects the native kernels' build when --isa asks for one; a UserError when the CPU cannot run it. */
function applyIsa(options: BenchOptions): void {
  if (options.isa === undefined) return;
  if (!isNativeIsa(options.isa)) throw new UserError(`--isa must be one of avx512, avx2, generic, got '${options.isa}'`);
  const available = nativeIsas();
  if (available.length === 0) throw new UserError('--isa needs the native kernels: build them with `node scripts/build-native.mjs`');
  if (!available.includes(options.isa)) throw new UserError(`--isa ${options.isa}: that build cannot run here (this CPU lacks its instructions, or the compiler could not build it); available: ${available.join(', ')}`);
  selectNativeIsa(options.isa);
}

/** The fp32 FMA peak of the native kernels' build (cpu backend only), printed with how it was found. */
function peakLine(peak: PeakEstimate): string {
  const busy = peak.cpuGflops > 1.15 * peak.gflops ? `; ${peak.cpuGflops.toFixed(0)} GFLOP/s per second of CPU time: the cores were shared with other load, figures are low` : '';
  const b = peak.broadcastGflops;
  const bcast = b !== undefined
    ? '\nFMAs with one broadcast memory operand each, as the tiles of 16 or fewer output channels run them: '
      + `${b.toFixed(0)} GFLOP/s (${(100 * b / peak.gflops).toFixed(0)}% of the peak; the same chains, best of the same number of probes)`
    : '';
  return `fp32 FMA peak ${peak.gflops.toFixed(0)} GFLOP/s (${peak.method}${busy})${bcast}`;
}

/** The peak for conv3d results (cpu backend with the native kernels); printed first unless --json (where the results carry it). */
function measurePeak(backend: string, options: BenchOptions, io: CliIO): PeakEstimate | undefined {
  if (backend !== 'cpu' || !nativeConv3dInfo()) return undefined;
  const peak = estimateFmaPeak();
  if (peak && !options.json) io.out(peakLine(peak));
  return peak;
}

function print(results: { tfjs: BenchResult; pytorch?: BenchResult; note?: string }, options: BenchOptions, io: CliIO): void {
  if (results.note) io.err(results.note);
  for (const r of [results.tfjs, results.pytorch]) {
    if (r) io.out(options.json ? JSON.stringify(r) : line(r));
  }
  if (results.pytorch && results.tfjs.parameters !== undefined && results.pytorch.parameters !== undefined && results.tfjs.parameters !== results.pytorch.parameters) {
    io.err(`warning: parameter counts differ (tfjs ${results.tfjs.parameters}, PyTorch ${results.pytorch.parameters})`);
  }
}

/**
 * `mtc bench conv3d --shape B,D,H,W,C --filters F [--kernel 3] [--stride 1]` and
 * `mtc bench step --arch unet --patch D,H,W --batch B --classes C [--features 16,32,64,128]`,
 * both with [--backend cpu|wasm] [--json] [--compare] [--repeats N] [--rounds N].
 */
export async function benchCommand(kind: 'conv3d' | 'step', options: BenchOptions, io: CliIO): Promise<number> {
  if (kind === 'conv3d') conv3dPlan(options); // options checked before the runtime starts
  else stepPlan(options);
  applyIsa(options); // before the runtime describes the build in use
  const runtime = await initRuntime(backendOf(options));
  const peak = kind === 'conv3d' ? measurePeak(runtime.backend, options, io) : undefined;
  const plan = kind === 'conv3d' ? conv3dPlan(options, peak) : stepPlan(options);
  print(await execute(plan, options, io, runtime.backend), options, io);
  return 0;
}

/** The default suite (`mtc bench`, `npm run bench`): the issue's cases with --compare, as a markdown table. */
export const SUITE: { kind: 'conv3d' | 'step'; options: BenchOptions }[] = [
  { kind: 'conv3d', options: { shape: '2,32,32,32,16', filters: '16' } },
  { kind: 'step', options: { patch: '32,32,32', batch: '2', classes: '8', features: '16,32,64,128' } },
  { kind: 'step', options: { patch: '32,32,32', batch: '2', classes: '8', features: '8,16,32,64' } },
  { kind: 'step', options: { arch: 'resenc_unet', patch: '32,32,32', batch: '2', classes: '8', features: '16,32,64,128' } },
];

/**
 * The GPU suite (`mtc bench suite --backend webgpu`): the issue's GPU table, compared with PyTorch on
 * CUDA in fp32: the CPU cases, nnU-Net-sized convolutions, and the full-resolution step (patch
 * 64x128x128, features 32-320, batch 2).
 */
export const GPU_SUITE: { kind: 'conv3d' | 'step'; options: BenchOptions }[] = [
  // The acceptance cases first, so that a run cut short still has them.
  { kind: 'conv3d', options: { shape: '2,32,32,32,16', filters: '16' } },
  { kind: 'step', options: { patch: '64,128,128', batch: '2', classes: '8', features: '32,64,128,256,320,320' } },
  { kind: 'step', options: { arch: 'resenc_unet', patch: '64,128,128', batch: '2', classes: '8', features: '32,64,128,256,320,320' } },
  { kind: 'conv3d', options: { shape: '2,64,128,128,32', filters: '32' } },
  { kind: 'conv3d', options: { shape: '2,64,128,128,32', filters: '64', stride: '2' } },
  { kind: 'conv3d', options: { shape: '2,8,8,8,320', filters: '320' } },
  ...SUITE.slice(1),
];

export async function benchSuite(options: BenchOptions, io: CliIO): Promise<number> {
  applyIsa(options); // before the runtime describes the build in use
  const runtime = await initRuntime(backendOf(options));
  const rows: string[] = [];
  const backends = new Set<string>([runtime.description]);
  const suite = runtime.backend === 'webgpu' ? GPU_SUITE : SUITE;
  const loadBefore = loadAverage();
  const peak = measurePeak(runtime.backend, options, io);
  for (const c of suite) {
    const plan = c.kind === 'conv3d' ? conv3dPlan(c.options, peak) : stepPlan(c.options);
    const r = await execute(plan, { compare: options.compare ?? true, repeats: options.repeats, rounds: options.rounds }, io, runtime.backend);
    if (options.json) print(r, options, io);
    if (r.note && rows.length === 0) io.err(r.note);
    const p = r.pytorch;
    backends.add(r.tfjs.backend);
    if (p) backends.add(p.backend);
    const ofPeak = r.tfjs.fraction_of_peak !== undefined ? ` (${(100 * r.tfjs.fraction_of_peak).toFixed(0)}% of peak)` : '';
    const cpu = (x: BenchResult | undefined) => (x?.cpu_ms !== undefined ? x.cpu_ms.toFixed(1) : '-');
    rows.push(
      `| ${r.tfjs.name} | ${r.tfjs.ms.toFixed(1)} | ${r.tfjs.gflops.toFixed(1)}${ofPeak} | ${p ? p.ms.toFixed(1) : '-'} | ${p ? p.gflops.toFixed(1) : '-'} | ${r.tfjs.ratio_to_pytorch?.toFixed(2) ?? '-'} | ${cpu(r.tfjs)} | ${cpu(p)} |`,
    );
    if (!options.json) io.err(`done: ${r.tfjs.name}`);
  }
  if (!options.json) {
    io.out(`machine: ${cpuModel()}, ${cpus().length} CPUs${nativeIsas().length ? `, native builds it runs: ${nativeIsas().join(', ')}` : ''}; load average (1, 5, 15 min) before ${loadBefore}, after ${loadAverage()}`);
    io.out(`backends: ${[...backends].join(', ')}; ratio = tfjs ms / PyTorch ms, medians of interleaved rounds`);
    io.out(`CPU ms: process CPU time per step, every thread${io.env.OMP_WAIT_POLICY?.toUpperCase() === 'PASSIVE' ? '' : " (PyTorch's includes its OpenMP threads' spin-waiting: set OMP_WAIT_POLICY=PASSIVE, as `npm run bench:cpu` does, to compare CPU time)"}`);
    io.out('| benchmark | tfjs ms | tfjs GFLOP/s | PyTorch ms | PyTorch GFLOP/s | ratio | tfjs CPU ms | PyTorch CPU ms |');
    io.out('|---|---|---|---|---|---|---|---|');
    for (const row of rows) io.out(row);
  }
  return 0;
}

function loadAverage(): string {
  return loadavg().map((x) => x.toFixed(2)).join(', ');
}

function cpuModel(): string {
  return cpus()[0]?.model.trim() || 'unknown CPU';
}
