import { availableParallelism, cpus, loadavg } from 'node:os';
import { nnunetProfile } from '../../graph/transforms.js';
import type { AugmentationSpec, Vec3 } from '../../graph/types.js';
import { benchLoader } from '../../runtime/train/bench-loader.js';
import { defaultLoaderWorkers } from '../../runtime/train/loader.js';
import { UserError, type CliIO } from '../io.js';
import { int, ints } from './bench.js';

export interface BenchLoaderOptions {
  patch?: string;
  batch?: string;
  workers?: string;
  batches?: string;
  augmentation?: string;
  case?: string;
  cases?: string;
  json?: boolean;
}

function profile(name: string | undefined): AugmentationSpec {
  if (name === undefined || name === 'nnunet') return nnunetProfile();
  if (name === 'none') return { name: 'none', transforms: [] };
  throw new UserError(`--augmentation must be 'nnunet' (stdlib's nnunet_augmentation) or 'none', got '${name}'`);
}

/**
 * `mtc bench loader --patch D,H,W --batch B [--workers N] [--batches N] [--augmentation nnunet|none]
 * [--case D,H,W] [--json]`: augmented batches per second on synthetic CT cases.
 */
export async function benchLoaderCommand(options: BenchLoaderOptions, io: CliIO): Promise<number> {
  const patch = ints(options.patch ?? '32,32,32', 'patch', 3) as Vec3;
  const batch = int(options.batch, 'batch', 2);
  const workers = options.workers === '0' ? 0 : int(options.workers, 'workers', defaultLoaderWorkers(availableParallelism()));
  const batches = int(options.batches, 'batches', 20);
  const caseShape = options.case ? (ints(options.case, 'case', 3) as Vec3) : undefined;
  if (caseShape && caseShape.some((s, a) => s < patch[a])) throw new UserError(`--case ${caseShape.join(',')} is smaller than the patch ${patch.join(',')}`);
  const r = await benchLoader({ patch, batch, workers, augmentation: profile(options.augmentation), batches, warmup: Math.max(2, workers), caseShape, cases: int(options.cases, 'cases', 2) });
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  if (options.json) {
    io.out(JSON.stringify({ name: r.name, workers: r.workers, batches_per_second: r.batchesPerSecond, ms_per_batch: r.msPerBatch, cpu_ms_per_batch: r.cpuMsPerBatch, cpu, load: loadavg()[0] }));
  } else {
    io.out(
      `${r.name}  ${r.workers} worker${r.workers === 1 ? '' : 's'}  ${r.batchesPerSecond.toFixed(2)} batches/s  (${r.msPerBatch.toFixed(1)} ms/batch, ` +
        `CPU ${r.cpuMsPerBatch.toFixed(1)} ms/batch)  ${cpu}, load ${loadavg()[0].toFixed(1)}`,
    );
  }
  return 0;
}
