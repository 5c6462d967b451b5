/**
 * Speed of the batch loader (`mtc bench loader`): augmented batches per second for a patch and
 * batch size, with N worker threads, on synthetic CT cases (the quickstart phantom, resampled to a
 * case size around the patch, as preprocessing would leave a CT at the experiment's spacing).
 */
import type { AugmentationSpec, HeadSpec, Vec3 } from '../../graph/types.js';
import { sampleClassVoxels } from '../data/preprocess/class-voxels.js';
import { resampleImage, resampleLabel } from '../data/preprocess/resample.js';
import { QUICKSTART_DATASETS, synthesizeCase } from '../data/synth/collection.js';
import type { PreprocessedCase, PreprocessedDataset } from '../data/types.js';
import { makeRng } from '../rng.js';
import type { BatchParams } from './batch.js';
import { createBatchSource } from './loader.js';

export interface LoaderBenchConfig {
  patch: Vec3;
  batch: number;
  workers: number;
  augmentation: AugmentationSpec;
  /** Timed batches (after `warmup` untimed ones, which include the workers' start). */
  batches: number;
  warmup: number;
  /** Shape of each synthetic case (default: 1.5 x the patch per axis, at least patch + 8). */
  caseShape?: Vec3;
  /** Distinct synthetic cases (default 2). */
  cases?: number;
  /** Batches prepared ahead (the loader's default when absent). */
  queue?: number;
}

export interface LoaderBenchResult {
  name: string;
  batchesPerSecond: number;
  msPerBatch: number;
  /** CPU time of the whole process (main thread and workers) per batch: the work, whatever the machine's load. */
  cpuMsPerBatch: number;
  caseShape: Vec3;
  workers: number;
}

/** The synthetic abdomen dataset (liver, spleen, aorta), cases resampled to `shape`. */
export function benchDataset(shape: Vec3, count: number): { dataset: PreprocessedDataset; heads: HeadSpec[] } {
  const spec = QUICKSTART_DATASETS.find((d) => d.folder === 'Dataset903_SynthAbdomen')!;
  const cases: PreprocessedCase[] = [];
  for (let i = 0; i < count; i++) {
    const s = synthesizeCase(spec.folder, i, 2026);
    // CT normalisation with the released MultiTalent model's statistics.
    const hu = Float32Array.from(s.image, (v) => (Math.min(Math.max(v, -927), 275) - 63.44) / 175.48);
    const image = resampleImage(hu, s.shape, shape, 1);
    const label = resampleLabel(s.label, s.shape, shape);
    const classVoxels: Record<string, Uint32Array> = {};
    for (const c of spec.classes) classVoxels[c.name] = sampleClassVoxels(label, c.labels, 10_000, makeRng(1, 'bench', i, c.name));
    cases.push({ id: `${spec.casePrefix}_${String(i).padStart(3, '0')}`, dataset: 'bench', image, label, shape, spacing: [1, 1, 1], classVoxels });
  }
  const heads = spec.classes.map((c) => ({ dataset: 'bench', name: c.name, labels: c.labels }));
  return { dataset: { name: 'bench', cases, train: cases.map((c) => c.id), holdout: [] }, heads };
}

export function defaultCaseShape(patch: Vec3): Vec3 {
  return patch.map((p) => Math.max(p + 8, Math.round(p * 1.5))) as Vec3;
}

export async function benchLoader(cfg: LoaderBenchConfig): Promise<LoaderBenchResult> {
  const caseShape = cfg.caseShape ?? defaultCaseShape(cfg.patch);
  const { dataset, heads } = benchDataset(caseShape, cfg.cases ?? 2);
  const params: BatchParams = {
    seed: 1,
    loss: 'multitalent',
    heads,
    architecture: { name: 'bench', kind: 'unet', patch: cfg.patch, features: [1], strides: [[1, 1, 1]], convsPerStage: 2 },
    batch: cfg.batch,
    sampling: { kind: 'inverse_sqrt', foregroundFraction: 0.33, shares: {} },
    augmentation: cfg.augmentation,
  };
  const total = cfg.warmup + cfg.batches;
  const source = createBatchSource({ datasets: [dataset], params, startIteration: 0, total, workers: cfg.workers, queue: cfg.queue });
  try {
    for (let i = 0; i < cfg.warmup; i++) await source.next();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < cfg.batches; i++) await source.next();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return {
      name: `loader patch ${cfg.patch.join('x')} batch ${cfg.batch} augmentation ${cfg.augmentation.name} cases ${caseShape.join('x')}`,
      batchesPerSecond: (1000 * cfg.batches) / ms,
      msPerBatch: ms / cfg.batches,
      cpuMsPerBatch: (cpu.user + cpu.system) / 1000 / cfg.batches,
      caseShape,
      workers: cfg.workers,
    };
  } finally {
    await source.close();
  }
}
