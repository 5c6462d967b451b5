/**
 * Preprocessing of a dataset collection, nnU-Net's order: crop to nonzero -> CT normalisation ->
 * resample to the target spacing; then the fixed split and the per-class voxel lists.
 *
 * Two passes over the raw files keep memory to about two raw cases plus the preprocessed results:
 * pass 1 samples foreground intensities for the statistics, pass 2 normalises and resamples.
 */
import type { ClassSpec, NormalizationSpec, SplitSpec, Vec3 } from '../../graph/types.js';
import { sampleClassVoxels } from './class-voxels.js';
import { cropToBox, boxShape, nonzeroBoundingBox } from './crop.js';
import { type RawCase, type RawDataset, loadRawCase, loadRawDataset } from './dataset.js';
import { MtDataError } from './errors.js';
import { type CtStats, applyCtNormalization, ctStats, sampleForeground } from './normalize.js';
import { type InterpolationOrder, resampleImage, resampleLabel, targetShape } from './resample.js';
import { makeRng } from './rng.js';
import { splitCases } from './split.js';
import type { PreprocessedCase, PreprocessedDataset } from './types.js';

export { regionMask } from './class-voxels.js';

export interface PreprocessInput {
  /** Graph dataset name. */
  name: string;
  /** nnU-Net raw dataset folder. */
  dir: string;
  classes: ClassSpec[];
}

export interface PreprocessOptions {
  spacing: Vec3;
  normalization: NormalizationSpec;
  split: SplitSpec;
  /** Image interpolation order (default 1, trilinear). Labels always use one-hot linear interpolation. */
  imageOrder?: InterpolationOrder;
  /** Foreground intensity samples for the statistics, in total over all cases (default 1e7). */
  foregroundSamples?: number;
  /** Voxels stored per class and case for foreground oversampling (default 10,000, nnU-Net's). */
  classVoxelsPerCase?: number;
}

export type PreprocessProgress = (done: number, total: number, message: string) => void;

export interface PreprocessResult {
  datasets: PreprocessedDataset[];
  /** Statistics used per dataset name (the same object for every dataset when the scope is the collection). */
  stats: Record<string, CtStats>;
}

/** Seed of the fixed draws (foreground samples, class voxels): nnU-Net uses 1234 too. */
const FIXED_SEED = 1234;

/** Runs `each` over the cases in order while the next case loads (decompression runs off the main thread). */
async function prefetching<T>(ds: RawDataset, each: (c: RawCase, index: number) => Promise<T> | T): Promise<T[]> {
  const out: T[] = [];
  const load = (k: number): Promise<RawCase> | null => {
    if (k >= ds.cases.length) return null;
    const p = loadRawCase(ds, ds.cases[k]);
    p.catch(() => undefined); // a failure is reported when awaited, never as an unhandled rejection
    return p;
  };
  let next = load(0);
  for (let k = 0; next; k++) {
    const current = await next;
    next = load(k + 1);
    out.push(await each(current, k));
  }
  return out;
}

function checkClasses(input: PreprocessInput, ds: RawDataset): string[] {
  const declared = new Set(ds.labelValues);
  const problems: string[] = [];
  const names = new Set<string>();
  for (const c of input.classes) {
    if (names.has(c.name)) problems.push(`class '${c.name}' is declared twice`);
    names.add(c.name);
    if (c.labels.length === 0) problems.push(`class '${c.name}' has no label values`);
    for (const v of c.labels) {
      if (v === 0) problems.push(`class '${c.name}' includes label 0, which is background`);
      else if (!declared.has(v)) problems.push(`class '${c.name}' uses label ${v}, which ${ds.dir}/dataset.json does not declare (declared: ${ds.labelValues.join(', ')})`);
    }
  }
  return problems.map((p) => `dataset '${input.name}': ${p}`);
}

/** Preprocesses the collection; see the module doc. Returns the datasets and the statistics used. */
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
  const names = inputs.map((i) => i.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new MtDataError(`preprocess: dataset name '${dup}' appears twice in the collection`);

  // validate everything first, so that every problem surfaces before the slow passes
  const raws: RawDataset[] = [];
  const failures: MtDataError[] = [];
  for (const input of inputs) {
    try {
      const ds = await loadRawDataset(input.dir);
      const problems = checkClasses(input, ds);
      if (problems.length > 0) throw new MtDataError(problems.join('\n'), { path: input.dir, problems });
      raws.push(ds);
    } catch (e) {
      if (e instanceof MtDataError) failures.push(e);
      else throw e;
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new MtDataError(`${failures.length} datasets are invalid:\n\n${failures.map((f) => f.message).join('\n\n')}`, {
      problems: failures.flatMap((f) => (f.problems.length > 0 ? f.problems : [f.message])),
    });
  }
  const splits = inputs.map((input, d) => splitCases(raws[d].cases.map((c) => c.id), options.split.holdoutFraction, options.split.seed, input.name));

  const totalCases = raws.reduce((s, d) => s + d.cases.length, 0);
  const total = 2 * totalCases;
  let done = 0;
  const budget = options.foregroundSamples ?? 1e7;
  const perCase = Math.max(1, Math.floor(budget / totalCases));

  // pass 1: foreground intensity samples, per dataset
  const samples: Float32Array[][] = [];
  for (let d = 0; d < raws.length; d++) {
    samples.push(
      await prefetching(raws[d], (c) => {
        const box = nonzeroBoundingBox(c.image.data, c.image.shape);
        const image = cropToBox(c.image.data, c.image.shape, box);
        const label = cropToBox(c.label.data, c.label.shape, box);
        const s = sampleForeground(image, label, perCase, makeRng(FIXED_SEED, 'foreground', inputs[d].name, c.id));
        onProgress?.(++done, total, `${inputs[d].name} ${c.id}: intensity statistics`);
        return s;
      }),
    );
  }
  const stats: Record<string, CtStats> = {};
  if (options.normalization.scope === 'collection') {
    const pooled = ctStats(samples.flat());
    if (!pooled) {
      throw new MtDataError(`preprocess: no case of ${inputs.map((i) => i.name).join(', ')} has labelled (foreground) voxels; CT normalisation needs them. Check the label files`);
    }
    for (const input of inputs) stats[input.name] = pooled;
  } else {
    for (let d = 0; d < inputs.length; d++) {
      const s = ctStats(samples[d]);
      if (!s) throw new MtDataError(`${inputs[d].dir}: no case has labelled (foreground) voxels; per-dataset CT normalisation needs them. Check the label files or normalise over the collection`, { path: inputs[d].dir });
      stats[inputs[d].name] = s;
    }
  }
  samples.length = 0;

  // pass 2: crop, normalise, resample, class voxels
  const order = options.imageOrder ?? 1;
  const maxVoxels = options.classVoxelsPerCase ?? 10_000;
  const datasets: PreprocessedDataset[] = [];
  for (let d = 0; d < raws.length; d++) {
    const input = inputs[d];
    const st = stats[input.name];
    const cases = await prefetching(raws[d], (c): PreprocessedCase => {
      const box = nonzeroBoundingBox(c.image.data, c.image.shape);
      const cropped = boxShape(box);
      const image = applyCtNormalization(Float32Array.from(cropToBox(c.image.data, c.image.shape, box)), st);
      const label = cropToBox(c.label.data, c.label.shape, box);
      const shape = targetShape(cropped, c.image.spacing, spacing);
      const outImage = resampleImage(image, cropped, shape, order);
      const outLabel = resampleLabel(label, cropped, shape);
      const classVoxels: Record<string, Uint32Array> = {};
      for (const cls of input.classes) {
        classVoxels[cls.name] = sampleClassVoxels(outLabel, cls.labels, maxVoxels, makeRng(FIXED_SEED, 'class-voxels', input.name, c.id, cls.name));
      }
      onProgress?.(++done, total, `${input.name} ${c.id}: ${c.image.shape.join('x')} -> ${shape.join('x')}`);
      return { id: c.id, dataset: input.name, image: outImage, label: outLabel, shape, spacing: [...spacing] as Vec3, classVoxels };
    });
    datasets.push({ name: input.name, cases, train: splits[d].train, holdout: splits[d].holdout });
  }
  return { datasets, stats };
}

/** Preprocesses the collection (see preprocessCollectionDetailed, which also returns the statistics). */
export async function preprocessCollection(
  inputs: PreprocessInput[],
  options: PreprocessOptions,
  onProgress?: PreprocessProgress,
): Promise<PreprocessedDataset[]> {
  return (await preprocessCollectionDetailed(inputs, options, onProgress)).datasets;
}
