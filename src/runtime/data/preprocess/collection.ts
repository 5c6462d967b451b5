/**
 * Preprocessing of a dataset collection, nnU-Net's order: crop to nonzero -> CT normalisation ->
 * resample to the target spacing (cubic images, one-hot linear labels, separate z for anisotropic
 * data); then the fixed split and the per-class voxel lists for oversampling.
 *
 * Pass 1 computes (or reads from the cache) each dataset's fingerprint, which holds the foreground
 * intensity samples; the statistics come from it per dataset or pooled over the collection. Pass 2
 * preprocesses one case at a time (raw arrays are dropped as soon as they are used) and stores each
 * result in the cache under a key over its input file contents, every parameter and the code version.
 * Every input is validated in pass 1, before anything is written to the cache.
 */
import type { ClassSpec, NormalizationSpec, Vec3 } from '../../../graph/types.js';
import { PreprocessCache, cacheKey } from '../cache/cache.js';
import { decodeCase, encodeCase } from '../cache/case-file.js';
import { onSharedMemory } from '../shared.js';
import { sampleClassVoxels } from './class-voxels.js';
import { preprocessArrays } from './image.js';
import { type RawCase, type RawDataset, classProblems, loadRawCase, loadRawDataset } from '../raw/dataset.js';
import { MtDataError } from '../errors.js';
import {
  DEFAULT_FOREGROUND_SAMPLES,
  type DatasetFingerprint,
  FIXED_SEED,
  type FingerprintResult,
  caseHashes,
  datasetFingerprint,
  pooledStats,
} from '../raw/fingerprint.js';
import type { CtStats } from './normalize.js';
import type { InterpolationOrder } from './resample.js';
import { makeRng } from '../../rng.js';
import { splitCases } from '../raw/split.js';
import type { PreprocessedCase, PreprocessedDataset } from '../types.js';

export { regionMask } from './class-voxels.js';

export interface PreprocessInput {
  /** Graph dataset name. */
  name: string;
  /** nnU-Net raw dataset folder. */
  dir: string;
  classes: ClassSpec[];
}

/** A seeded hold-out of each dataset (see raw/split.ts); absent: every case is a training case. */
export interface HoldoutSplit {
  holdoutFraction: number;
  seed: number;
}

export interface PreprocessOptions {
  spacing: Vec3;
  normalization: Pick<NormalizationSpec, 'kind' | 'scope'>;
  /** CT statistics to apply instead of computing them (a fine-tune target normalised like its pre-training). */
  statistics?: CtStats;
  split?: HoldoutSplit;
  /** Image interpolation order (default 3, nnU-Net's cubic spline). Labels always use one-hot linear interpolation. */
  imageOrder?: InterpolationOrder;
  /** Foreground intensity samples per dataset, spread evenly over its cases (default 1e7). */
  foregroundSamples?: number;
  /** Voxels stored per class and case for foreground oversampling (default 10,000, nnU-Net's). */
  classVoxelsPerCase?: number;
  /** Cache folder (see cache.ts); absent: nothing is cached. */
  cacheDir?: string;
  /** Told when a cache entry is damaged (it is then rebuilt): the file and what is wrong. */
  onCacheDamage?: (problem: string) => void;
}

export type PreprocessProgress = (done: number, total: number, message: string) => void;

export interface PreprocessResult {
  datasets: PreprocessedDataset[];
  /** Statistics used per dataset name (the same object for every dataset when the scope is the collection). */
  stats: Record<string, CtStats>;
  /** Fingerprint per dataset name. */
  fingerprints: Record<string, DatasetFingerprint>;
  /** Cases read from the cache instead of computed. */
  cacheHits: number;
  /** With a cache: the cache file of each case (dataset name -> case id -> path), immutable once written. */
  cacheFiles: Record<string, Record<string, string>>;
}

/** Crop, normalise, resample and list class voxels of one case (raw arrays are released early). */
async function preprocessCase(ds: RawDataset, id: string, input: PreprocessInput, st: CtStats, options: PreprocessOptions): Promise<PreprocessedCase> {
  const maxVoxels = options.classVoxelsPerCase ?? 10_000;
  let raw: RawCase | null = await loadRawCase(ds, id);
  const geometry = raw.geometry;
  const canonicalShape = raw.image.shape;
  const canonicalSpacing = raw.image.spacing;
  const out = preprocessArrays(raw.image.data, raw.label.data, canonicalShape, canonicalSpacing, {
    spacing: options.spacing,
    normalization: st,
    imageOrder: options.imageOrder ?? 3,
  });
  raw = null;
  const label = out.label as Uint8Array;
  const classVoxels: Record<string, Uint32Array> = {};
  for (const cls of input.classes) {
    classVoxels[cls.name] = sampleClassVoxels(label, cls.labels, maxVoxels, makeRng(FIXED_SEED, 'class-voxels', input.name, id, cls.name));
  }
  return {
    id,
    dataset: input.name,
    image: out.image,
    label,
    shape: out.shape,
    spacing: [...options.spacing] as Vec3,
    classVoxels,
    source: {
      imagePath: ds.cases.find((c) => c.id === id)?.imagePath ?? '',
      storedShape: geometry.shape,
      orientationCode: geometry.orientationCode,
      canonicalShape,
      canonicalSpacing,
      cropStart: out.cropStart,
      cropEnd: out.cropEnd,
      separateAxis: out.separateAxis,
    },
  };
}

function combined(list: MtDataError[]): MtDataError {
  if (list.length === 1) return list[0];
  return new MtDataError(`${list.length} datasets are invalid:\n\n${list.map((f) => f.message).join('\n\n')}`, {
    problems: list.flatMap((f) => (f.problems.length > 0 ? f.problems : [f.message])),
  });
}

/** Preprocesses the collection; see the module doc. Returns the datasets, statistics and fingerprints. */
export async function preprocessCollectionDetailed(
  inputs: PreprocessInput[],
  options: PreprocessOptions,
  onProgress?: PreprocessProgress,
): Promise<PreprocessResult> {
  const { spacing } = options;
  if (spacing.length !== 3 || spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new MtDataError(`preprocess: target spacing ${JSON.stringify(spacing)} must be three positive numbers [z, y, x] mm`);
  }
  if (options.normalization.kind !== 'ct') {
    throw new MtDataError(`preprocess: normalisation '${String(options.normalization.kind)}' is not supported; only 'ct'`);
  }
  const order = options.imageOrder ?? 3;
  if (order !== 0 && order !== 1 && order !== 3) throw new MtDataError(`preprocess: image interpolation order ${String(order)} is not supported (0, 1 or 3)`);
  const names = inputs.map((i) => i.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new MtDataError(`preprocess: dataset name '${dup}' appears twice in the collection`);
  const cache = options.cacheDir ? new PreprocessCache(options.cacheDir, options.onCacheDamage) : undefined;
  if (cache) await cache.sweep().catch(() => 0);
  const memo = cache?.path('hashes', '');

  // structure and dataset.json of every dataset first, so that every such problem surfaces at once
  const raws: RawDataset[] = [];
  const failures: MtDataError[] = [];
  for (const input of inputs) {
    try {
      const ds = await loadRawDataset(input.dir, { checkContents: false });
      const problems = classProblems(input.name, input.classes, ds);
      if (problems.length > 0) throw new MtDataError(problems.join('\n'), { path: input.dir, problems });
      raws.push(ds);
    } catch (e) {
      if (e instanceof MtDataError) failures.push(e);
      else throw e;
    }
  }
  if (failures.length > 0) throw combined(failures);
  const split = options.split;
  const splits = inputs.map((input, d) => {
    const ids = raws[d].cases.map((c) => c.id);
    return split ? splitCases(ids, split.holdoutFraction, split.seed, input.name) : { train: [...ids].sort(), holdout: [] };
  });

  const totalCases = raws.reduce((s, d) => s + d.cases.length, 0);
  const total = 2 * totalCases;
  let done = 0;
  const budget = options.foregroundSamples ?? DEFAULT_FOREGROUND_SAMPLES;

  // pass 1: fingerprints; a dataset whose fingerprint is not cached is checked in full first, so
  // that every problem of it is reported at once and nothing is cached from invalid data
  const fps: FingerprintResult[] = [];
  for (let d = 0; d < raws.length; d++) {
    const ds = raws[d];
    const progress = (id: string, cached: boolean): void => onProgress?.(++done, total, `${inputs[d].name} ${id}: fingerprint${cached ? ' (cached)' : ''}`);
    try {
      fps.push(await datasetFingerprint(ds, { cache, foregroundSamples: budget, onCase: progress, validate: () => loadRawDataset(ds.dir, { checkContents: true }) }));
    } catch (e) {
      if (!(e instanceof MtDataError)) throw e;
      // on failure, read every image in full too, to report every problem (truncation, NaN, dims) at once
      const full = await loadRawDataset(ds.dir, { checkContents: true, readImages: true }).then(
        () => null,
        (f: unknown) => (f instanceof MtDataError ? f : null),
      );
      failures.push(full ?? e);
    }
  }
  if (failures.length > 0) throw combined(failures);
  const stats: Record<string, CtStats> = {};
  const fingerprints: Record<string, DatasetFingerprint> = {};
  inputs.forEach((input, d) => {
    fingerprints[input.name] = fps[d].fingerprint;
  });
  if (options.statistics !== undefined) {
    for (const input of inputs) stats[input.name] = options.statistics;
  } else if (options.normalization.scope === 'collection') {
    const pooled = pooledStats(fps, budget);
    if (!pooled) {
      throw new MtDataError(`preprocess: no case of ${inputs.map((i) => i.name).join(', ')} has labelled (foreground) voxels; CT normalisation needs them. Check the label files`);
    }
    for (const input of inputs) stats[input.name] = pooled;
  } else {
    for (let d = 0; d < inputs.length; d++) {
      const s = fps[d].fingerprint.intensity;
      if (!s) throw new MtDataError(`${inputs[d].dir}: no case has labelled (foreground) voxels; per-dataset CT normalisation needs them. Check the label files or normalise over the collection`, { path: inputs[d].dir });
      stats[inputs[d].name] = { mean: s.mean, std: s.std, p005: s.p005, p995: s.p995, samples: s.samples };
    }
  }
  fps.length = 0;

  // pass 2: one case at a time, through the cache
  let cacheHits = 0;
  const cacheFiles: Record<string, Record<string, string>> = {};
  const datasets: PreprocessedDataset[] = [];
  for (let d = 0; d < raws.length; d++) {
    const input = inputs[d];
    const ds = raws[d];
    const st = stats[input.name];
    const hashes = cache ? await caseHashes(ds, memo) : undefined;
    const cases: PreprocessedCase[] = [];
    for (const ref of ds.cases) {
      let result: PreprocessedCase;
      let hit = false;
      if (cache && hashes) {
        const key = cacheKey({
          kind: 'case',
          files: hashes.get(ref.id),
          dataset: input.name,
          id: ref.id,
          classes: input.classes.map((c) => [c.name, c.labels]),
          spacing,
          order,
          stats: [st.mean, st.std, st.p005, st.p995],
          classVoxels: options.classVoxelsPerCase ?? 10_000,
          seed: FIXED_SEED,
        });
        (cacheFiles[input.name] ??= {})[ref.id] = cache.path('cases', `${key}.mtcase`);
        result = await cache.once(`case:${key}`, async () => {
          const bytes = await cache.read('cases', `${key}.mtcase`);
          const cached = bytes ? decodeCase(bytes) : null;
          if (cached) {
            hit = true;
            return cached;
          }
          const fresh = await preprocessCase(ds, ref.id, input, st, options);
          await cache.write('cases', `${key}.mtcase`, encodeCase(fresh));
          return fresh;
        });
      } else {
        result = await preprocessCase(ds, ref.id, input, st, options);
      }
      if (hit) cacheHits++;
      result = onSharedMemory(result); // loader workers read it without a copy
      cases.push(result);
      const src = result.source;
      onProgress?.(++done, total, `${input.name} ${ref.id}: ${src ? `${src.canonicalShape.join('x')} -> ` : ''}${result.shape.join('x')}${hit ? ' (cached)' : ''}`);
    }
    datasets.push({ name: input.name, cases, train: splits[d].train, holdout: splits[d].holdout });
  }
  return { datasets, stats, fingerprints, cacheHits, cacheFiles };
}

/** Preprocesses the collection (see preprocessCollectionDetailed, which also returns the statistics). */
export async function preprocessCollection(
  inputs: PreprocessInput[],
  options: PreprocessOptions,
  onProgress?: PreprocessProgress,
): Promise<PreprocessedDataset[]> {
  return (await preprocessCollectionDetailed(inputs, options, onProgress)).datasets;
}
