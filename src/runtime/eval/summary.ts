import type { ClassSetSpec } from '../../graph/types.js';
import type { EvaluationResult } from '../events.js';

/**
 * Summaries of per-class results, the way the paper reports them: the class average (each class
 * counts once), the dataset average (the mean of each dataset's class mean: the fair one, since
 * datasets differ in size and class count), per dataset, per class group (class sets and tags such as
 * `cancer` or `difficult`), and the aggregation of 5-fold cross-validation.
 *
 * Conventions: Dice is null where undefined (both masks empty); class means ignore those cases. HD95
 * is null where undefined and +Infinity where exactly one mask is empty; its means ignore the nulls
 * and are infinite when any case is.
 */

/** One summary figure: the mean Dice over some classes, and how many had a defined Dice. */
export interface GroupDice {
  name: string;
  dice: number | null;
  classes: number;
  /** Mean HD95 (mm) over the group's classes with one, when HD95 was computed. */
  hd95?: number | null;
}

export interface DatasetDice {
  dataset: string;
  dice: number | null;
  classes: number;
  hd95?: number | null;
}

export interface EvaluationSummary {
  stage: string;
  /** Mean over classes (each class counts once). */
  classAverage: number | null;
  /** Mean over datasets of each dataset's class mean: the paper's fair average. */
  datasetAverage: number | null;
  /** Per dataset, in first-seen order. */
  datasets?: DatasetDice[];
  /** One entry per class set or tag group (`tag:cancer`, ...) that has members in this evaluation. */
  groups: GroupDice[];
  /** HD95 class and dataset averages (mm), when HD95 was computed. */
  hd95ClassAverage?: number | null;
  hd95DatasetAverage?: number | null;
}

/** What a summary needs of a class's result. */
export interface ClassResult {
  dataset: string;
  name: string;
  dice: number | null;
  hd95?: number | null;
}

/** Mean of the defined values (null when none; infinite when any is). */
export function meanOf(xs: readonly (number | null | undefined)[]): number | null {
  const d = xs.filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
  return d.length === 0 ? null : d.reduce((a, b) => a + b, 0) / d.length;
}

function datasetMeans(classes: readonly ClassResult[], pick: (c: ClassResult) => number | null | undefined): DatasetDice[] {
  const order: string[] = [];
  const by = new Map<string, (number | null | undefined)[]>();
  for (const c of classes) {
    if (!by.has(c.dataset)) {
      by.set(c.dataset, []);
      order.push(c.dataset);
    }
    by.get(c.dataset)!.push(pick(c));
  }
  return order.map((d) => ({ dataset: d, dice: meanOf(by.get(d)!), classes: by.get(d)!.filter((v) => typeof v === 'number').length }));
}

/** Class, dataset and group averages of per-class results (classes named `dataset.class` in sets). */
export function summarizeClasses(stage: string, classes: readonly ClassResult[], classSets: readonly ClassSetSpec[]): EvaluationSummary {
  const withHd = classes.some((c) => c.hd95 !== undefined);
  const perDataset = datasetMeans(classes, (c) => c.dice);
  const hdPerDataset = withHd ? datasetMeans(classes, (c) => c.hd95) : [];
  const datasets: DatasetDice[] = perDataset.map((d, i) => (withHd ? { ...d, hd95: hdPerDataset[i].dice } : d));
  const groups: GroupDice[] = [];
  for (const set of classSets) {
    const members = new Set(set.classes);
    const inSet = classes.filter((c) => members.has(`${c.dataset}.${c.name}`));
    if (inSet.length === 0) continue;
    const g: GroupDice = { name: set.name, dice: meanOf(inSet.map((c) => c.dice)), classes: inSet.filter((c) => c.dice !== null).length };
    if (withHd) g.hd95 = meanOf(inSet.map((c) => c.hd95));
    groups.push(g);
  }
  const summary: EvaluationSummary = {
    stage,
    classAverage: meanOf(classes.map((c) => c.dice)),
    datasetAverage: meanOf(perDataset.map((d) => d.dice)),
    datasets,
    groups,
  };
  if (withHd) {
    summary.hd95ClassAverage = meanOf(classes.map((c) => c.hd95));
    summary.hd95DatasetAverage = meanOf(hdPerDataset.map((d) => d.dice));
  }
  return summary;
}

/** The summary of one evaluation stage's result. */
export function summarizeEvaluation(result: EvaluationResult, classSets: ClassSetSpec[]): EvaluationSummary {
  return summarizeClasses(result.stage, result.classes, classSets);
}

/** Per-case values of one class in one fold. */
export interface FoldClassCases {
  dataset: string;
  name: string;
  dice: Record<string, number | null>;
  hd95?: Record<string, number | null>;
}

export interface FoldAggregate {
  dataset: string;
  name: string;
  /** Per fold, the class mean (null where the fold has no defined case). */
  perFold: (number | null)[];
  /** Mean and population standard deviation of the fold means. */
  mean: number | null;
  std: number | null;
  /** Mean over every case of every fold (nnU-Net's summary of the pooled validation predictions). */
  pooled: number | null;
  hd95PerFold?: (number | null)[];
  hd95Mean?: number | null;
  hd95Pooled?: number | null;
}

export interface CrossValidationSummary {
  folds: number[];
  classes: FoldAggregate[];
  /** Per fold, the class and dataset averages; then their mean and std over folds. */
  classAverage: { perFold: (number | null)[]; mean: number | null; std: number | null };
  datasetAverage: { perFold: (number | null)[]; mean: number | null; std: number | null };
}

function meanStd(xs: readonly (number | null)[]): { mean: number | null; std: number | null } {
  const d = xs.filter((v): v is number => v !== null && Number.isFinite(v));
  if (d.length === 0) return { mean: meanOf(xs), std: null };
  const m = d.reduce((a, b) => a + b, 0) / d.length;
  return { mean: meanOf(xs), std: Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / d.length) };
}

/**
 * 5-fold cross-validation (any number of folds): per class the mean Dice of each fold, their mean and
 * std, and the pooled mean over all cases; the class and dataset averages per fold and over folds.
 */
export function aggregateFolds(folds: readonly { fold: number; classes: readonly FoldClassCases[] }[]): CrossValidationSummary {
  const keyOf = (c: { dataset: string; name: string }) => `${c.dataset}\u0000${c.name}`;
  const keys: { dataset: string; name: string }[] = [];
  const seen = new Set<string>();
  for (const f of folds)
    for (const c of f.classes)
      if (!seen.has(keyOf(c))) {
        seen.add(keyOf(c));
        keys.push({ dataset: c.dataset, name: c.name });
      }
  const withHd = folds.some((f) => f.classes.some((c) => c.hd95 !== undefined));
  const classes: FoldAggregate[] = keys.map((k) => {
    const inFolds = folds.map((f) => f.classes.find((c) => keyOf(c) === keyOf(k)));
    const perFold = inFolds.map((c) => (c ? meanOf(Object.values(c.dice)) : null));
    const ms = meanStd(perFold);
    const agg: FoldAggregate = { ...k, perFold, mean: ms.mean, std: ms.std, pooled: meanOf(inFolds.flatMap((c) => (c ? Object.values(c.dice) : []))) };
    if (withHd) {
      agg.hd95PerFold = inFolds.map((c) => (c?.hd95 ? meanOf(Object.values(c.hd95)) : null));
      agg.hd95Mean = meanOf(agg.hd95PerFold);
      agg.hd95Pooled = meanOf(inFolds.flatMap((c) => (c?.hd95 ? Object.values(c.hd95) : [])));
    }
    return agg;
  });
  const perFoldSummary = folds.map((f, i) =>
    summarizeClasses(
      `fold ${f.fold}`,
      classes.map((c) => ({ dataset: c.dataset, name: c.name, dice: c.perFold[i] })),
      [],
    ),
  );
  const ca = perFoldSummary.map((s) => s.classAverage);
  const da = perFoldSummary.map((s) => s.datasetAverage);
  return { folds: folds.map((f) => f.fold), classes, classAverage: { perFold: ca, ...meanStd(ca) }, datasetAverage: { perFold: da, ...meanStd(da) } };
}

/** JSON for a metric: NaN and undefined as null, infinities as "Infinity" / "-Infinity". */
export function metricJson(v: number | null | undefined): number | string | null {
  if (v === null || v === undefined || Number.isNaN(v)) return null;
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

/** JSON.stringify with metricJson applied to every number (NaN -> null, Infinity -> "Infinity"). */
export function stringifyMetrics(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' ? metricJson(v) : v), indent);
}
