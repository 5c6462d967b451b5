/**
 * plans.json: everything needed to use a trained model on a new scan, next to its model.json and
 * weights.bin (nnU-Net's plans file plays this role). Written by the train stage; read by
 * `mtc infer`, `mtc export` and the report. See docs/inference.md for the field reference.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetSpec, HeadSpec, InferenceSpec, NormalizationSpec, TrainParams, Vec3 } from '../../graph/types.js';
import { ANISOTROPY_THRESHOLD } from '../data/preprocess/resample.js';
import type { CtStats } from '../data/preprocess/normalize.js';
import { MtDataError } from '../data/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type SoftwareVersions, softwareVersions } from '../version.js';
import type { OutputActivation } from './sliding-window.js';

export const PLANS_FORMAT = 'multitalent-plans';
export const PLANS_VERSION = 1;
export const PLANS_FILE = 'plans.json';

export interface CtStatistics {
  mean: number;
  std: number;
  p005: number;
  p995: number;
  /** Foreground samples the statistics come from. */
  samples: number;
}

/** One output class of the model: its dataset, name, region labels and tags. */
export interface PlansHead extends HeadSpec {
  tags: string[];
}

/** A label map in a dataset's own protocol: classes written in `order`, later ones overwriting. */
export interface DatasetProtocol {
  order: { class: string; value: number }[];
  /** The dataset's declared label names and values (empty when the source declares none). */
  labels: Record<string, number>;
}

export interface ModelPlans {
  format: typeof PLANS_FORMAT;
  version: number;
  experiment: string;
  /** The stage that trained the model, e.g. `finetune:quickstart`. */
  stage: string;
  createdAt: string;
  versions: SoftwareVersions & { plans: number };
  /** Every 3-vector is [z, y, x]; voxel arrays are in the closest canonical RAS+ order (docs/data.md). */
  axisOrder: 'zyx';
  voxelOrder: 'closest-canonical-RAS';
  preprocessing: {
    /** nnU-Net's crop to the bounding box of nonzero voxels. */
    crop: 'nonzero';
    spacing: Vec3;
    /** Image interpolation order (3: cubic spline). Probabilities go back with order 1. */
    imageInterpolation: 0 | 1 | 3;
    /** max/min spacing above which the coarse axis is resampled separately (order 0). */
    anisotropyThreshold: number;
    normalization: {
      kind: 'ct';
      scope: NormalizationSpec['scope'];
      /** Statistics per dataset the model was trained on (the same object for a collection scope). */
      statistics: Record<string, CtStatistics>;
    };
  };
  heads: PlansHead[];
  /** Output activation: a sigmoid per class (MultiTalent) or a softmax over the channels. */
  activation: OutputActivation;
  /** Probability above which a voxel belongs to a class. */
  threshold: number;
  /** Default sliding-window settings (nnU-Net's). */
  inference: InferenceSpec;
  /**
   * The axes (0 = z, 1 = y, 2 = x) test-time mirroring may flip: those the training augmentation
   * mirrored (nnU-Net's `inference_allowed_mirroring_axes`). Empty: the model never saw a mirrored
   * image, so mirroring is not used. Absent in older plans: all three.
   */
  mirrorAxes?: number[];
  /** Per dataset of the heads: its label-map protocol (`mtc infer --protocol`). */
  protocols: Record<string, DatasetProtocol>;
  /** The training stage's resolved parameters (null: not trained by mtc, e.g. an imported model). */
  training: TrainParams | null;
  /** Where an imported model came from (`mtc import`): its format, network and checkpoint. */
  imported?: Record<string, unknown>;
}

/** nnU-Net's inference defaults: step 0.5, Gaussian weighting, mirroring over all axes. */
export const DEFAULT_INFERENCE: InferenceSpec = { stepFraction: 0.5, gaussian: true, mirror: true };

/**
 * The label-map protocol of one dataset's classes, with `regions_class_order` semantics: a class is
 * written after every class whose region strictly contains it (tumour after liver), otherwise in
 * declared order; it writes the smallest of its label values that no strictly smaller class of the
 * dataset covers (liver {1, 2} writes 1, its tumour {2} writes 2), or its smallest label.
 */
export function deriveProtocol(classes: readonly { name: string; labels: readonly number[] }[], labels: Record<string, number> = {}): DatasetProtocol {
  const sets = classes.map((c) => new Set(c.labels));
  const strictSubset = (a: Set<number>, b: Set<number>) => a.size < b.size && [...a].every((v) => b.has(v));
  const value = (i: number): number => {
    const covered = new Set<number>();
    sets.forEach((s, j) => {
      if (j !== i && strictSubset(s, sets[i])) for (const v of s) covered.add(v);
    });
    const own = [...sets[i]].filter((v) => !covered.has(v)).sort((a, b) => a - b);
    return own[0] ?? Math.min(...sets[i]);
  };
  const left = classes.map((_, i) => i);
  const order: DatasetProtocol['order'] = [];
  while (left.length > 0) {
    // the first class (declared order) that no remaining class strictly contains
    const k = left.findIndex((i) => !left.some((j) => j !== i && strictSubset(sets[i], sets[j])));
    const i = left.splice(k < 0 ? 0 : k, 1)[0];
    order.push({ class: classes[i].name, value: value(i) });
  }
  return { order, labels: { ...labels } };
}

/**
 * The axes the training augmentation mirrors, as the trainer applies it (train/augment.ts): without a
 * profile, nnU-Net's mirroring on all axes; with one, its `mirror` transform's axes when p > 0; else none.
 */
export function trainingMirrorAxes(params: Pick<TrainParams, 'augmentation'>): number[] {
  const spec = params.augmentation;
  if (!spec) return [0, 1, 2];
  const mirror = spec.transforms.find((t) => t.kind === 'mirror');
  return mirror && mirror.p > 0 ? [...(mirror.axes ?? [0, 1, 2])].sort() : [];
}

export interface BuildPlansInput {
  stageId: string;
  params: TrainParams;
  datasets: readonly DatasetSpec[];
  normalization: NormalizationSpec;
  statistics: Record<string, CtStats>;
  activation: OutputActivation;
  imageInterpolation?: 0 | 1 | 3;
  spacing: Vec3;
}

function statsJson(s: CtStats): CtStatistics {
  return { mean: s.mean, std: s.std, p005: s.p005, p995: s.p995, samples: s.samples };
}

/** The plans of a model trained by `params` (see ModelPlans). */
export function buildPlans(input: BuildPlansInput): ModelPlans {
  const { params } = input;
  const statistics: Record<string, CtStatistics> = {};
  for (const d of params.datasets) {
    const s = input.statistics[d];
    if (!s) throw new Error(`plans: no normalisation statistics for dataset '${d}' (have: ${Object.keys(input.statistics).join(', ') || 'none'})`);
    statistics[d] = statsJson(s);
  }
  const byName = new Map(input.datasets.map((d) => [d.name, d]));
  const tagsOf = (h: HeadSpec) => byName.get(h.dataset)?.classes.find((c) => c.name === h.name)?.tags ?? [];
  const protocols: Record<string, DatasetProtocol> = {};
  for (const d of [...new Set(params.heads.map((h) => h.dataset))]) {
    const heads = params.heads.filter((h) => h.dataset === d);
    protocols[d] = deriveProtocol(heads, byName.get(d)?.labels ?? {});
  }
  return {
    format: PLANS_FORMAT,
    version: PLANS_VERSION,
    experiment: params.experiment,
    stage: input.stageId,
    createdAt: new Date().toISOString(),
    versions: { ...softwareVersions(), plans: PLANS_VERSION },
    axisOrder: 'zyx',
    voxelOrder: 'closest-canonical-RAS',
    preprocessing: {
      crop: 'nonzero',
      spacing: [...input.spacing] as Vec3,
      imageInterpolation: input.imageInterpolation ?? 3,
      anisotropyThreshold: ANISOTROPY_THRESHOLD,
      normalization: { kind: 'ct', scope: input.normalization.scope, statistics },
    },
    heads: params.heads.map((h) => ({ dataset: h.dataset, name: h.name, labels: [...h.labels], tags: [...tagsOf(h)] })),
    activation: input.activation,
    threshold: 0.5,
    inference: { ...DEFAULT_INFERENCE },
    mirrorAxes: trainingMirrorAxes(params),
    protocols,
    training: structuredClone(params),
  };
}

export async function writePlans(dir: string, plans: ModelPlans): Promise<void> {
  await writeFileAtomic(join(dir, PLANS_FILE), `${JSON.stringify(plans, null, 2)}\n`);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isVec3 = (v: unknown): v is Vec3 => Array.isArray(v) && v.length === 3 && v.every((x) => isNum(x) && x > 0);

/** Problems of a parsed plans object (empty when usable). */
export function plansProblems(v: unknown): string[] {
  if (typeof v !== 'object' || v === null) return ['is not a JSON object'];
  const p = v as Partial<ModelPlans>;
  if (p.format !== PLANS_FORMAT) return [`format is ${JSON.stringify(p.format)}, not "${PLANS_FORMAT}"`];
  if (!isNum(p.version) || p.version > PLANS_VERSION) {
    return [`is plans version ${String(p.version)}; this mtc (${softwareVersions().mtc}) reads version ${PLANS_VERSION}: update mtc`];
  }
  const out: string[] = [];
  const pre = p.preprocessing;
  if (!pre || !isVec3(pre.spacing)) out.push('preprocessing.spacing must be three positive numbers [z, y, x]');
  if (pre && ![0, 1, 3].includes(pre.imageInterpolation as number)) out.push('preprocessing.imageInterpolation must be 0, 1 or 3');
  const stats = pre?.normalization?.statistics;
  if (!stats || typeof stats !== 'object' || Object.keys(stats).length === 0) out.push('preprocessing.normalization.statistics is missing');
  else {
    for (const [d, s] of Object.entries(stats)) {
      if (!s || !isNum(s.mean) || !isNum(s.std) || !isNum(s.p005) || !isNum(s.p995)) out.push(`preprocessing.normalization.statistics.${d} needs mean, std, p005 and p995`);
    }
  }
  if (!Array.isArray(p.heads) || p.heads.length === 0) out.push('heads must list the output classes');
  if (p.activation !== 'sigmoid' && p.activation !== 'softmax') out.push(`activation ${JSON.stringify(p.activation)} is not sigmoid or softmax`);
  if (!p.protocols || typeof p.protocols !== 'object') out.push('protocols is missing');
  return out;
}

/** Reads `dir/plans.json`; an MtDataError names the file and the problem. */
export async function readPlans(dir: string): Promise<ModelPlans> {
  const path = join(dir, PLANS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw MtDataError.about(
      path,
      'is missing: the model has no record of how its training data was preprocessed',
      'Use a model trained by this version of mtc (mtc run writes plans.json next to every checkpoint), or retrain it',
    );
  }
  return parsePlans(text, path);
}

export function parsePlans(text: string, where: string): ModelPlans {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw MtDataError.about(where, `is not valid JSON (${(e as Error).message})`, 'Restore it from the run folder or re-export the model');
  }
  const problems = plansProblems(v);
  if (problems.length > 0) throw MtDataError.about(where, `is not usable plans: ${problems.join('; ')}`, 'Restore it from the run folder or re-export the model');
  return v as ModelPlans;
}

/**
 * The CT statistics to normalise a new scan with: the model's only set, else the one of `dataset`
 * (e.g. the `--protocol` dataset, or the dataset of every selected class).
 */
export function statisticsFor(plans: ModelPlans, dataset: string | null): { stats: CtStatistics; from: string } {
  const all = plans.preprocessing.normalization.statistics;
  const names = Object.keys(all);
  const distinct = new Set(names.map((n) => JSON.stringify([all[n].mean, all[n].std, all[n].p005, all[n].p995])));
  if (distinct.size === 1) return { stats: all[names[0]], from: names.length === 1 ? names[0] : `the collection (${names.join(', ')})` };
  if (dataset && all[dataset]) return { stats: all[dataset], from: dataset };
  throw new MtDataError(
    `the model normalises each of its datasets (${names.join(', ')}) with its own CT statistics, so a new scan must say which protocol it follows: ` +
      'pass --protocol DATASET, or --classes of one dataset',
  );
}
