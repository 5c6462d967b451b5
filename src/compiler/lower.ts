/**
 * Lowering: a checked program and the experiments selected to run -> one RuntimeGraph.
 *
 * Per selected experiment M, following its pre-training chain (root first) through `pretrained`:
 *   prepare:DATASET              one per dataset of the chain (shared by every experiment using it)
 *   preprocess:GROUP             the root's datasets, CT statistics of their own (shared by every
 *                                experiment that trains on the same datasets at the same spacing)
 *   train:ROOT[/foldK]           the root; one stage per fold of M when M is the root, else the root's
 *                                first fold only (the one model every fine-tune fold starts from)
 *   preprocess:D@GROUP           each later link's datasets, with the root group's statistics
 *   finetune:LINK[/foldK]        each later link, from the previous link's first fold
 *   evaluate:M, report:M         cross-validation over M's folds (none when M has `folds none`:
 *                                it trains on every case, so nothing is held out to evaluate)
 * Stages are identified by id; one that several experiments need appears once (and must be
 * identical). Every experiment in a chain shares the root's spacing and architecture (resolved
 * by the checker at the root's patch and spacing). Stage ids are labels: what a stage computes is
 * in its fields, and the runtime's cache keys never include ids.
 */
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { outputLayoutFor } from '../graph/outputs.js';
import { datasetShares } from '../graph/sampling.js';
import {
  GRAPH_SCHEMA_VERSION,
  type ClassSetSpec, type DatasetSpec, type HeadSpec, type RuntimeGraph, type SamplingKind, type Stage, type TrainParams, type Vec3,
} from '../graph/types.js';
import { chainOf } from './check/checker.js';
import type { CheckedProgram, DatasetModel, ExperimentModel } from './check/model.js';
import { EXPERIMENT_DEFAULTS } from './check/experiments.js';

/**
 * Every dataset's cross-validation split: 5 folds, seeded like nnU-Net's KFold (12345), independent
 * of the experiment's seed so that every experiment on a dataset (MD networks and the per-dataset
 * baselines alike) uses the same split. A dataset's `split` file replaces it.
 */
export const SPLIT = { folds: 5, seed: 12345 } as const;
export const INFERENCE = { stepFraction: 0.5, gaussian: true, mirror: false } as const;

/**
 * Share of draws per dataset, by the sampling law of graph/sampling.ts. When any dataset's case
 * count is unknown, all datasets are treated as equally large.
 */
export function samplingShares(kind: SamplingKind, datasets: ReadonlyArray<{ name: string; cases: number | null }>): Record<string, number> {
  const known = datasets.every((d) => d.cases !== null && d.cases > 0);
  return datasetShares(kind, Object.fromEntries(datasets.map((d) => [d.name, known ? (d.cases as number) : 1])));
}

/** One head per class of the datasets, in order; with targets (`dataset.class` ids), only those. */
export function headsOf(datasets: readonly DatasetSpec[], targets: readonly string[] | null = null): HeadSpec[] {
  return datasets.flatMap((d) =>
    d.classes.filter((c) => targets === null || targets.includes(`${d.name}.${c.name}`)).map((c) => ({ dataset: d.name, name: c.name, labels: [...c.labels] })),
  );
}

/**
 * The report's class groups: the experiment's class sets, then one per tag, restricted to the
 * evaluated classes (the targets when given, else every class of the evaluated datasets). The
 * checker has warned about (MT0409) or refused (MT0410) what this leaves out.
 */
export function reportClassSets(checked: CheckedProgram, report: readonly string[], evaluated: readonly DatasetSpec[], targets: readonly string[] | null = null): ClassSetSpec[] {
  const ids = new Set(headsOf(evaluated, targets).map((h) => `${h.dataset}.${h.name}`));
  const out: ClassSetSpec[] = [];
  for (const name of report) {
    const cs = checked.classsets.get(name);
    const classes = (cs?.classes ?? []).filter((c) => ids.has(c));
    if (classes.length > 0) out.push({ name, classes });
  }
  const tags = [...new Set(evaluated.flatMap((d) => d.classes.flatMap((c) => c.tags)))];
  for (const tag of tags) {
    const classes = evaluated.flatMap((d) => d.classes.filter((c) => c.tags.includes(tag)).map((c) => `${d.name}.${c.name}`)).filter((c) => ids.has(c));
    if (classes.length > 0) out.push({ name: `tag:${tag}`, classes });
  }
  return out;
}

export class LoweringError extends Error {}

function need<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new LoweringError(`internal: ${what} is missing after a clean check`);
  return v;
}

/** A `pretrained "FILE"` path: relative paths are relative to the .mt file that names them. */
export function checkpointPath(e: Pick<ExperimentModel, 'checkpoint' | 'file'>): string | null {
  if (e.checkpoint === null) return null;
  return isAbsolute(e.checkpoint) ? e.checkpoint : normalize(join(dirname(e.file), e.checkpoint));
}

/** The training stage id of experiment `e` for `fold`: `train:NAME` (`finetune:NAME`), with `/foldK` when `e` trains several folds. */
export function stageId(e: ExperimentModel, fold: number | null = e.folds[0]): string {
  return `${e.pretrained === null ? 'train' : 'finetune'}:${e.name}${e.folds.length > 1 ? `/fold${fold}` : ''}`;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Lowers the experiments in `mains` (in that order); the program must have checked without errors. Throws LoweringError otherwise. */
export function lower(checked: CheckedProgram, mains: readonly string[], sourceFile: string): RuntimeGraph {
  if (mains.length === 0) throw new LoweringError('internal: no experiment to lower');
  const stages = new Map<string, Stage>();
  const add = (stage: Stage): string => {
    const prior = stages.get(stage.id);
    if (prior === undefined) stages.set(stage.id, stage);
    else if (!sameJson(prior, stage)) throw new LoweringError(`internal: two different stages are both named '${stage.id}'`);
    return stage.id;
  };
  const datasetNames: string[] = [];
  const dataset = (d: string): DatasetModel => need(checked.datasets.get(d), `dataset '${d}'`);

  /** Experiments in program order that train from scratch, with their own preprocessing group's content. */
  const groupContent = (datasets: readonly string[], spacing: Vec3, statsFrom: string | null) => JSON.stringify([datasets, spacing, statsFrom]);
  const groupLabel = (datasets: readonly string[], spacing: Vec3, statsFrom: string | null, rootsOnly: boolean): string => {
    if (datasets.length === 1) {
      // `D`, unless experiments of the program train on D alone at different spacings: then `D_1.5x1x1`.
      const spacings = new Set<string>();
      for (const e of checked.experiments.values()) {
        const sp = checked.resolvedSpacing.get(e.name);
        if (rootsOnly === (e.pretrained === null) && sp !== undefined && e.datasets.length === 1 && e.datasets[0] === datasets[0]) spacings.add(sp.join('x'));
      }
      return spacings.size > 1 ? `${datasets[0]}_${spacing.join('x')}` : datasets[0];
    }
    const want = groupContent(datasets, spacing, statsFrom);
    for (const e of checked.experiments.values()) {
      if (rootsOnly !== (e.pretrained === null)) continue;
      const sp = checked.resolvedSpacing.get(e.name);
      if (sp !== undefined && groupContent(e.datasets, sp, statsFrom) === want) return e.name;
    }
    return need<string>(undefined, `a preprocessing group for ${datasets.join(', ')}`);
  };
  const preprocess = (datasets: readonly string[], spacing: Vec3, statsFrom: string | null): string => {
    for (const d of datasets) {
      if (!datasetNames.includes(d)) datasetNames.push(d);
      add({ id: `prepare:${d}`, kind: 'prepare', deps: [], datasets: [d] });
    }
    const label = groupLabel(datasets, spacing, statsFrom, statsFrom === null);
    const id = statsFrom === null ? `preprocess:${label}` : `preprocess:${label}@${statsFrom.slice('preprocess:'.length)}`;
    return add({
      id,
      kind: 'preprocess',
      deps: [...datasets.map((d) => `prepare:${d}`), ...(statsFrom === null ? [] : [statsFrom])],
      datasets: [...datasets],
      spacing: [...spacing],
      normalization: { kind: 'ct', scope: 'collection', statsFrom },
    });
  };

  for (const main of mains) {
    const chain = need(chainOf(checked, main), `the pre-training chain of '${main}'`);
    const root = need(chain[0], `experiment '${main}'`);
    const spacing = need(checked.resolvedSpacing.get(root.name), `spacing of '${root.name}'`);
    const mainExp = chain[chain.length - 1];

    const seedOf = new Map<string, number>();
    for (const e of chain) {
      const inherited = e.pretrained !== null ? seedOf.get(e.pretrained) : undefined;
      seedOf.set(e.name, e.seed ?? inherited ?? EXPERIMENT_DEFAULTS.seed);
    }

    for (const e of chain) for (const d of e.datasets) add({ id: `prepare:${d}`, kind: 'prepare', deps: [], datasets: [d] });
    const rootData = preprocess(root.datasets, spacing, null);
    let mainData = rootData;
    let previous: string | null = null;
    for (const e of chain) {
      const architecture = need(checked.resolvedArchitectures.get(e.name), `the architecture of '${e.name}'`);
      const dsSpecs = e.datasets.map((d) => dataset(d).spec);
      const heads = headsOf(dsSpecs, e.targets);
      const data = e === root ? rootData : preprocess(e.datasets, spacing, rootData);
      if (e === mainExp) mainData = data;
      const folds = e === mainExp ? e.folds : [e.folds[0]];
      const from: string | null = previous;
      for (const fold of folds) {
        const params: TrainParams = {
          experiment: e.name,
          datasets: [...e.datasets],
          heads,
          architecture: structuredClone(architecture),
          batch: e.batch,
          sampling: {
            kind: e.sampling.kind,
            foregroundFraction: e.sampling.foregroundFraction,
            shares: samplingShares(e.sampling.kind, e.datasets.map((d) => ({ name: d, cases: checked.datasets.get(d)?.cases ?? null }))),
          },
          schedule: structuredClone(need(checked.schedules.get(need(e.schedule, `schedule of '${e.name}'`)), `schedule '${e.schedule}'`)),
          loss: e.loss,
          lossOptions: { ...e.lossOptions },
          output: outputLayoutFor(e.loss, heads),
          seed: seedOf.get(e.name) ?? EXPERIMENT_DEFAULTS.seed,
          fold,
          split: { ...SPLIT },
          augmentation: structuredClone(e.augmentation),
          precision: e.precision,
          checkpoint: from === null ? checkpointPath(e) : null,
          targets: e.targets === null ? null : [...e.targets],
        };
        const id = stageId(e, fold);
        if (from === null) add({ id, kind: 'train', deps: [data], data, ...params });
        else add({ id, kind: 'finetune', deps: [data, from], data, from, ...params });
      }
      previous = stageId(e, folds[0]);
    }
    const folds = mainExp.folds.filter((f): f is number => f !== null);
    if (folds.length === 0) continue; // `folds none`: every case was trained on, none is left to evaluate
    const evalId = `evaluate:${mainExp.name}`;
    const ev = mainExp.evaluation;
    const models = folds.map((fold) => ({ fold, stage: stageId(mainExp, fold) }));
    add({
      id: evalId, kind: 'evaluate', deps: [...models.map((m) => m.stage), mainData], experiment: mainExp.name, models, data: mainData,
      datasets: [...mainExp.datasets], split: { ...SPLIT },
      inference: { stepFraction: ev.step, gaussian: INFERENCE.gaussian, mirror: ev.tta },
      metrics: [...ev.metrics],
    });
    const evaluated = mainExp.datasets.map((d) => dataset(d).spec);
    add({ id: `report:${mainExp.name}`, kind: 'report', deps: [evalId], experiment: mainExp.name, evaluations: [evalId], classSets: reportClassSets(checked, mainExp.report, evaluated, mainExp.targets) });
  }

  return {
    schemaVersion: GRAPH_SCHEMA_VERSION,
    source: { file: sourceFile, experiments: [...mains] },
    datasets: datasetNames.map((d) => structuredClone(dataset(d).spec)),
    stages: [...stages.values()],
  };
}
