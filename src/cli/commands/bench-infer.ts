import { cpus, loadavg } from 'node:os';
import type { ArchitectureSpec, Vec3 } from '../../graph/types.js';
import { benchSlidingWindow, type InferBenchResult } from '../../runtime/infer/bench.js';
import { nativeConv3dInfo } from '../../runtime/kernels/registry.js';
import { initRuntime } from '../../runtime/setup.js';
import { UserError, type CliIO } from '../io.js';
import { findTorch, int, ints, runPytorch, threadCount, type BenchResult } from './bench.js';

export interface BenchInferOptions {
  case?: string;
  volume?: string;
  tiles?: string;
  quickstartTiles?: string;
  mirror?: boolean;
  compare?: boolean;
  json?: boolean;
}

const unet = (name: string, patch: Vec3, features: number[], strides: Vec3[]): ArchitectureSpec => ({ name, kind: 'unet', patch, features, strides, convsPerStage: 2, deepSupervision: false });

/** The quickstart's network (experiments/quickstart.mt) and the paper's U-Net (stdlib/architectures.mt). */
export const QUICKSTART_UNET = unet('quickstart_unet', [32, 32, 32], [8, 16, 32, 64], [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]);
export const PAPER_UNET = unet('multitalent_unet', [96, 192, 192], [30, 60, 120, 240, 320, 320], [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]);
/** Classes per dataset of the paper's 13-dataset collection (47 in all; method reference, Table 3). */
export const PAPER_COLLECTION_CLASSES = [2, 1, 2, 2, 1, 1, 13, 4, 8, 6, 4, 1, 2];

interface Row {
  name: string;
  tfjs: InferBenchResult;
  pytorch?: BenchResult & { ms_per_tile?: number; case_ms?: number; tiles_predicted?: number };
}

const secs = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);

/**
 * `mtc bench infer`: inference time per case on the cpu backend, the sliding window of `mtc infer`
 * (no mirroring unless --mirror), side by side with the same sliding window in PyTorch
 * (bench/pytorch_reference.py infer) with --compare; and one multi-dataset model against an ensemble
 * of per-dataset models covering the same 47 classes.
 */
export async function benchInferCommand(options: BenchInferOptions, io: CliIO): Promise<number> {
  const which = options.case ?? 'all';
  if (!['all', 'quickstart', 'paper', 'ensemble'].includes(which)) throw new UserError(`--case must be quickstart, paper, ensemble or all, got '${which}'`);
  const volume = ints(options.volume ?? '200,512,512', 'volume', 3) as Vec3;
  const paperTiles = int(options.tiles, 'tiles', 2);
  const quickTiles = options.quickstartTiles ? int(options.quickstartTiles, 'quickstart-tiles') : undefined;
  const mirror = Boolean(options.mirror);
  const runtime = await initRuntime('cpu');
  let python: string | undefined;
  if (options.compare) {
    const t = findTorch(io, false);
    if ('python' in t) python = t.python;
    else io.err(`--compare skipped: ${t.reason}`);
  }
  const threads = String(threadCount(io));
  const pyArgs = (arch: ArchitectureSpec, extra: string[]) => [
    'infer', '--features', arch.features.join(','), '--patch', arch.patch.join(','), '--strides', arch.strides.map((s) => s.join(',')).join(';'),
    '--threads', threads, ...(mirror ? ['--mirror'] : []), ...extra,
  ];
  const rows: Row[] = [];
  const load0 = loadavg();
  const progress = (s: string) => {
    if (!options.json) io.err(s);
  };
  if (which === 'all' || which === 'quickstart') {
    progress(`quickstart U-Net on ${volume.join('x')}...`);
    const tfjs = await benchSlidingWindow({ arch: QUICKSTART_UNET, classes: [2], shape: volume, mirror, maxTiles: quickTiles });
    const pytorch = python ? runPytorch(python, pyArgs(QUICKSTART_UNET, ['--classes', '2', '--volume', volume.join(','), ...(quickTiles ? ['--tiles', String(quickTiles)] : [])])) : undefined;
    rows.push({ name: `quickstart U-Net (features 8-64, patch 32³, 2 classes), ${volume.join('x')} volume`, tfjs, pytorch });
  }
  if (which === 'all' || which === 'paper') {
    progress(`the paper's U-Net at [96,192,192] on ${volume.join('x')} (${paperTiles} tiles timed)...`);
    const tfjs = await benchSlidingWindow({ arch: PAPER_UNET, classes: [47], shape: volume, mirror, maxTiles: paperTiles, aggregate: 1 });
    const pytorch = python ? runPytorch(python, pyArgs(PAPER_UNET, ['--classes', '47', '--aggregate', '1', '--volume', volume.join(','), '--tiles', String(paperTiles)])) : undefined;
    rows.push({ name: `paper's U-Net (features 30-320, patch 96x192x192, 47 classes), ${volume.join('x')} volume`, tfjs, pytorch });
  }
  const ensembles: { name: string; one: InferBenchResult; many: InferBenchResult }[] = [];
  if (which === 'all' || which === 'ensemble') {
    // the quickstart's network on a small case, and the paper's network (features 30-320) at one
    // tile of [48, 96, 96]: the share of per-class work (head, activation, accumulation) differs
    const cases: { name: string; arch: ArchitectureSpec; shape: Vec3 }[] = [
      { name: 'quickstart-sized U-Net (8-64, patch 32³), 64x160x160 volume', arch: QUICKSTART_UNET, shape: [64, 160, 160] },
      { name: "the paper's U-Net (30-320) at patch 48x96x96, one tile", arch: { ...PAPER_UNET, patch: [48, 96, 96] }, shape: [48, 96, 96] },
    ];
    for (const c of cases) {
      progress(`one 47-class model vs an ensemble of ${PAPER_COLLECTION_CLASSES.length} per-dataset models: ${c.name}...`);
      const one = await benchSlidingWindow({ arch: c.arch, classes: [47], shape: c.shape, mirror });
      const many = await benchSlidingWindow({ arch: c.arch, classes: PAPER_COLLECTION_CLASSES, shape: c.shape, mirror });
      ensembles.push({ name: c.name, one, many });
    }
  }
  const load1 = loadavg();
  const native = nativeConv3dInfo();
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${native ? `native kernels ${native.isa} ${native.threads} threads` : runtime.description}; load average ${load0[0].toFixed(1)} at the start, ${load1[0].toFixed(1)} at the end`;
  if (options.json) {
    for (const r of rows) io.out(JSON.stringify({ name: r.name, tfjs: r.tfjs, pytorch: r.pytorch, ratio: r.pytorch?.case_ms ? r.tfjs.caseMs / r.pytorch.case_ms : undefined }));
    for (const e of ensembles) io.out(JSON.stringify({ name: `ensemble: ${e.name}`, one: e.one, ensemble: e.many, speedup: e.many.ms / e.one.ms }));
    io.out(JSON.stringify({ machine, mirror }));
    return 0;
  }
  io.out(`${machine}; sliding window step 0.5, Gaussian weighting, ${mirror ? 'mirroring over all axes (8 passes)' : 'no mirroring'}`);
  if (rows.length > 0) {
    io.out('| case | tiles (timed) | tfjs ms/tile | tfjs s/case | PyTorch ms/tile | PyTorch s/case | ratio |');
    io.out('|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const p = r.pytorch;
      const timed = r.tfjs.tilesPredicted < r.tfjs.tiles ? `${r.tfjs.tiles} (${r.tfjs.tilesPredicted}, extrapolated)` : String(r.tfjs.tiles);
      io.out(
        `| ${r.name} | ${timed} | ${r.tfjs.msPerTile.toFixed(1)} | ${secs(r.tfjs.caseMs)} | ${p?.ms_per_tile?.toFixed(1) ?? '-'} | ${p?.case_ms ? secs(p.case_ms) : '-'} | ${p?.case_ms ? (r.tfjs.caseMs / p.case_ms).toFixed(2) : '-'} |`,
      );
    }
  }
  if (ensembles.length > 0) {
    io.out('');
    io.out(`| the 47 classes of the paper's 13 datasets | one multi-dataset model (47 heads) s | ensemble of 13 per-dataset models (${PAPER_COLLECTION_CLASSES.join(', ')} heads) s | speed-up |`);
    io.out('|---|---|---|---|');
    for (const e of ensembles) io.out(`| ${e.name} (${e.one.tiles} tiles) | ${secs(e.one.ms)} | ${secs(e.many.ms)} | ${(e.many.ms / e.one.ms).toFixed(1)}x |`);
  }
  return 0;
}
