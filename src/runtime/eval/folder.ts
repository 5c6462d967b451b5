/**
 * `mtc eval PRED_DIR GT_DIR`: label maps in PRED_DIR against the reference label maps in GT_DIR,
 * matched by file name, on the region classes of a dataset.json (a class is a label, or a list of
 * labels for a region). Dice per case and class, HD95 in mm (hd95.ts), and the summaries of
 * summary.ts. A PRED_DIR of `fold_*` folders is a cross-validation: each fold is evaluated on the
 * cases it holds, then aggregated.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ClassSetSpec, Vec3 } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import { affineMaxDiff } from '../data/nifti/affine.js';
import { readNiftiLabel } from '../data/nifti/read.js';
import { type DatasetJson, datasetJsonProblems } from '../data/raw/dataset-json.js';
import { regionMask } from '../data/regions.js';
import { foldDirs, foldNumber } from '../infer/model-files.js';
import { dice } from './dice.js';
import { hd95 } from './hd95.js';
import { type CrossValidationSummary, type EvaluationSummary, aggregateFolds, meanOf, summarizeClasses } from './summary.js';

export interface EvalClass {
  name: string;
  labels: number[];
}

export interface CaseMetric {
  case: string;
  class: string;
  dice: number | null;
  /** mm; null when both masks are empty, Infinity when one is. Absent when not computed. */
  hd95?: number | null;
  /** The fold folder the prediction came from (cross-validation only). */
  fold?: number;
}

export interface ClassSummaryRow {
  class: string;
  labels: number[];
  /** Cases with a defined Dice / all cases. */
  cases: number;
  defined: number;
  dice: number | null;
  hd95?: number | null;
  /** Cases whose HD95 is infinite (exactly one mask empty). */
  hd95Infinite?: number;
}

export interface FolderEvaluation {
  dataset: string;
  datasetJson: string;
  predictions: string;
  references: string;
  cases: CaseMetric[];
  classes: ClassSummaryRow[];
  summary: EvaluationSummary;
  crossValidation?: CrossValidationSummary;
  /** Prediction files without a reference, ignored. */
  unmatched: string[];
}

export interface EvaluateFolderOptions {
  /** Dataset folder holding dataset.json (default: the folder above GT_DIR). */
  dataset?: string;
  /** Compute HD95 (default true). */
  hd95?: boolean;
  /** Class groups to summarise, by class name (e.g. { cancer: ['tumour'] }). */
  groups?: Record<string, string[]>;
  onProgress?: (done: number, total: number, item: string) => void;
}

const ENDINGS = ['.nii.gz', '.nii'];

function caseId(name: string): string | null {
  const e = ENDINGS.find((x) => name.endsWith(x));
  return e ? name.slice(0, -e.length) : null;
}

async function niftiFiles(dir: string): Promise<Map<string, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw MtDataError.about(dir, 'is not a readable folder', 'Pass the folder of label maps (CASE.nii.gz)');
  }
  const out = new Map<string, string>();
  for (const n of names.sort()) {
    const id = n.startsWith('.') ? null : caseId(n);
    if (id !== null) out.set(id, join(dir, n));
  }
  return out;
}

/** The classes of a dataset.json: every label but background (and `ignore`), regions as lists. */
export async function classesOfDatasetJson(path: string): Promise<EvalClass[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw MtDataError.about(path, `cannot be read as JSON (${(e as Error).message})`, 'Point --dataset at the nnU-Net dataset folder holding dataset.json');
  }
  const problems = datasetJsonProblems(json);
  if (problems.length > 0) throw MtDataError.about(path, `is not a valid dataset.json: ${problems.join('; ')}`, 'Fix it, or point --dataset elsewhere');
  const labels = (json as DatasetJson).labels;
  return Object.entries(labels)
    .filter(([name]) => name !== 'background' && name !== 'ignore')
    .map(([name, v]) => ({ name, labels: Array.isArray(v) ? [...v] : [v] }));
}

async function evaluatePairs(
  pairs: { id: string; pred: string; ref: string }[],
  classes: EvalClass[],
  withHd: boolean,
  fold: number | undefined,
  onProgress?: EvaluateFolderOptions['onProgress'],
  offset = 0,
  total = pairs.length,
): Promise<CaseMetric[]> {
  const out: CaseMetric[] = [];
  let done = offset;
  for (const p of pairs) {
    const [pred, ref] = await Promise.all([readNiftiLabel(p.pred), readNiftiLabel(p.ref)]);
    const ps = pred.geometry.shape;
    const rs = ref.geometry.shape;
    if (ps.some((d, i) => d !== rs[i])) {
      throw MtDataError.about(p.pred, `is ${ps.join('x')} voxels [z,y,x] but its reference ${p.ref} is ${rs.join('x')}`, 'Compare predictions exported to the reference grid (mtc infer writes them with the input geometry)');
    }
    const diff = affineMaxDiff(pred.geometry.affine, ref.geometry.affine);
    if (diff > 1e-2) {
      throw MtDataError.about(p.pred, `has an affine that differs from its reference's by up to ${diff.toFixed(3)} mm`, 'Predictions must lie on the reference grid; re-export them with the image header');
    }
    const spacing: Vec3 = ref.geometry.spacing;
    for (const c of classes) {
      const pm = regionMask(pred.volume.data, c.labels);
      const rm = regionMask(ref.volume.data, c.labels);
      const m: CaseMetric = { case: p.id, class: c.name, dice: dice(pm, rm) };
      if (withHd) {
        const h = hd95(pm, rm, rs, spacing);
        m.hd95 = Number.isNaN(h) ? null : h;
      }
      if (fold !== undefined) m.fold = fold;
      out.push(m);
    }
    done++;
    onProgress?.(done, total, p.id);
  }
  return out;
}

function classRows(cases: CaseMetric[], classes: EvalClass[], withHd: boolean): ClassSummaryRow[] {
  return classes.map((c) => {
    const mine = cases.filter((m) => m.class === c.name);
    const row: ClassSummaryRow = {
      class: c.name,
      labels: c.labels,
      cases: mine.length,
      defined: mine.filter((m) => m.dice !== null).length,
      dice: meanOf(mine.map((m) => m.dice)),
    };
    if (withHd) {
      row.hd95 = meanOf(mine.map((m) => m.hd95));
      row.hd95Infinite = mine.filter((m) => m.hd95 === Infinity).length;
    }
    return row;
  });
}

/** Evaluates a folder of predictions (or of `fold_*` folders) against references; see the module doc. */
export async function evaluateFolder(predDir: string, gtDir: string, options: EvaluateFolderOptions = {}): Promise<FolderEvaluation> {
  const datasetDir = options.dataset ?? dirname(resolve(gtDir));
  const datasetJson = join(datasetDir, 'dataset.json');
  const classes = await classesOfDatasetJson(datasetJson);
  const withHd = options.hd95 ?? true;
  const refs = await niftiFiles(gtDir);
  if (refs.size === 0) throw MtDataError.about(gtDir, 'holds no label maps (.nii.gz or .nii)', 'Pass the folder of reference label maps, e.g. labelsTr/');
  const folds = (await foldDirs(predDir)).map((d) => ({ fold: foldNumber(d) as number, dir: d }));
  const sources = folds.length > 0 ? folds : [{ fold: undefined as number | undefined, dir: predDir }];
  const plans: { fold: number | undefined; pairs: { id: string; pred: string; ref: string }[] }[] = [];
  const unmatched: string[] = [];
  for (const s of sources) {
    const preds = await niftiFiles(s.dir);
    const pairs: { id: string; pred: string; ref: string }[] = [];
    for (const [id, path] of preds) {
      const ref = refs.get(id);
      if (ref) pairs.push({ id, pred: path, ref });
      else unmatched.push(path);
    }
    if (folds.length === 0) {
      const missing = [...refs.keys()].filter((id) => !preds.has(id));
      if (missing.length > 0) {
        throw MtDataError.about(
          predDir,
          `has no prediction for ${missing.length} of the ${refs.size} reference case(s): ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`,
          `Predict them (mtc infer MODEL -i IMAGES -o ${predDir} --protocol DATASET), or evaluate against a folder holding only the cases you predicted`,
        );
      }
    }
    if (pairs.length === 0) throw MtDataError.about(s.dir, `holds no prediction named like a reference in ${gtDir}`, 'Predictions and references are matched by file name (CASE.nii.gz)');
    plans.push({ fold: s.fold, pairs });
  }
  const total = plans.reduce((n, p) => n + p.pairs.length, 0);
  const cases: CaseMetric[] = [];
  for (const p of plans) cases.push(...(await evaluatePairs(p.pairs, classes, withHd, p.fold, options.onProgress, cases.length / classes.length, total)));
  const dataset = basename(resolve(datasetDir));
  const rows = classRows(cases, classes, withHd);
  const groupSets: ClassSetSpec[] = Object.entries(options.groups ?? {}).map(([name, members]) => ({ name, classes: members.map((m) => `${dataset}.${m}`) }));
  const unknown = Object.values(options.groups ?? {}).flat().filter((m) => !classes.some((c) => c.name === m));
  if (unknown.length > 0) throw new MtDataError(`--group: ${unknown.map((u) => `'${u}'`).join(', ')} is not a class of ${datasetJson} (classes: ${classes.map((c) => c.name).join(', ')})`);
  const summary = summarizeClasses(
    'eval',
    rows.map((r) => ({ dataset, name: r.class, dice: r.dice, ...(withHd ? { hd95: r.hd95 ?? null } : {}) })),
    groupSets,
  );
  const result: FolderEvaluation = { dataset, datasetJson, predictions: predDir, references: gtDir, cases, classes: rows, summary, unmatched };
  if (folds.length > 0) {
    result.crossValidation = aggregateFolds(
      folds.map((f) => ({
        fold: f.fold,
        classes: classes.map((c) => {
          const mine = cases.filter((m) => m.fold === f.fold && m.class === c.name);
          return {
            dataset,
            name: c.name,
            dice: Object.fromEntries(mine.map((m) => [m.case, m.dice])),
            ...(withHd ? { hd95: Object.fromEntries(mine.map((m) => [m.case, m.hd95 ?? null])) } : {}),
          };
        }),
      })),
    );
  }
  return result;
}
