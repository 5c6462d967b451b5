/**
 * Lowering: a checked program and its main experiment -> RuntimeGraph.
 *
 * Stages, in order: prepare, preprocess, train:ROOT, finetune:NEXT..., evaluate:MAIN, report.
 * The pre-training chain is followed through `pretrained`; every experiment in it shares the
 * root's spacing and architecture (resolved by the checker at the root's patch and spacing).
 */
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { outputLayoutFor } from '../graph/outputs.js';
import { datasetShares } from '../graph/sampling.js';
import {
  GRAPH_SCHEMA_VERSION,
  type ClassSetSpec, type DatasetSpec, type HeadSpec, type RuntimeGraph, type SamplingKind, type Stage, type TrainParams,
} from '../graph/types.js';
import { chainOf } from './check/checker.js';
import type { CheckedProgram, DatasetModel, ExperimentModel } from './check/model.js';
import { EXPERIMENT_DEFAULTS } from './check/experiments.js';

export const HOLDOUT_FRACTION = 0.2;
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

export function stageId(e: ExperimentModel): string {
  return `${e.pretrained === null ? 'train' : 'finetune'}:${e.name}`;
}

/** Lowers `main`; the program must have checked without errors. Throws LoweringError otherwise. */
export function lower(checked: CheckedProgram, main: string, sourceFile: string): RuntimeGraph {
  const chain = need(chainOf(checked, main), `the pre-training chain of '${main}'`);
  const root = need(chain[0], `experiment '${main}'`);
  const spacing = need(checked.resolvedSpacing.get(root.name), `spacing of '${root.name}'`);
  const mainExp = chain[chain.length - 1];

  const datasetNames: string[] = [];
  for (const e of chain) for (const d of e.datasets) if (!datasetNames.includes(d)) datasetNames.push(d);
  const models: DatasetModel[] = datasetNames.map((d) => need(checked.datasets.get(d), `dataset '${d}'`));
  const byName = new Map(models.map((m) => [m.spec.name, m]));

  const seedOf = new Map<string, number>();
  for (const e of chain) {
    const inherited = e.pretrained !== null ? seedOf.get(e.pretrained) : undefined;
    seedOf.set(e.name, e.seed ?? inherited ?? EXPERIMENT_DEFAULTS.seed);
  }
  const mainSeed = seedOf.get(mainExp.name) ?? EXPERIMENT_DEFAULTS.seed;

  const stages: Stage[] = [
    { id: 'prepare', kind: 'prepare', deps: [], datasets: [...datasetNames] },
    {
      id: 'preprocess',
      kind: 'preprocess',
      deps: ['prepare'],
      datasets: [...datasetNames],
      spacing: [...spacing],
      normalization: { kind: 'ct', scope: 'collection' },
      split: { holdoutFraction: HOLDOUT_FRACTION, seed: mainSeed },
    },
  ];

  let previous: string | null = null;
  for (const e of chain) {
    const architecture = need(checked.resolvedArchitectures.get(e.name), `the architecture of '${e.name}'`);
    const dsSpecs = e.datasets.map((d) => need(byName.get(d), `dataset '${d}'`).spec);
    const heads = headsOf(dsSpecs, e.targets);
    const params: TrainParams = {
      experiment: e.name,
      datasets: [...e.datasets],
      heads,
      architecture: structuredClone(architecture),
      batch: e.batch,
      sampling: {
        kind: e.sampling.kind,
        foregroundFraction: e.sampling.foregroundFraction,
        shares: samplingShares(e.sampling.kind, e.datasets.map((d) => ({ name: d, cases: byName.get(d)?.cases ?? null }))),
      },
      schedule: structuredClone(need(checked.schedules.get(need(e.schedule, `schedule of '${e.name}'`)), `schedule '${e.schedule}'`)),
      loss: e.loss,
      lossOptions: { ...e.lossOptions },
      output: outputLayoutFor(e.loss, heads),
      seed: seedOf.get(e.name) ?? EXPERIMENT_DEFAULTS.seed,
      augmentation: structuredClone(e.augmentation),
      folds: [...e.folds],
      precision: e.precision,
      checkpoint: previous === null ? checkpointPath(e) : null,
      targets: e.targets === null ? null : [...e.targets],
    };
    const id = stageId(e);
    if (previous === null) stages.push({ id, kind: 'train', deps: ['preprocess'], ...params });
    else stages.push({ id, kind: 'finetune', deps: ['preprocess', previous], from: previous, ...params });
    previous = id;
  }
  const model = need(previous, 'the model stage');
  const evalId = `evaluate:${mainExp.name}`;
  const ev = mainExp.evaluation;
  stages.push({
    id: evalId, kind: 'evaluate', deps: [model], experiment: mainExp.name, model, datasets: [...mainExp.datasets],
    inference: { stepFraction: ev.step, gaussian: INFERENCE.gaussian, mirror: ev.tta },
    metrics: [...ev.metrics],
  });
  const evaluated = mainExp.datasets.map((d) => need(byName.get(d), `dataset '${d}'`).spec);
  stages.push({ id: 'report', kind: 'report', deps: [evalId], evaluations: [evalId], classSets: reportClassSets(checked, mainExp.report, evaluated, mainExp.targets) });

  return {
    schemaVersion: GRAPH_SCHEMA_VERSION,
    source: { file: sourceFile, experiment: mainExp.name },
    seed: mainSeed,
    datasets: models.map((m) => structuredClone(m.spec)),
    stages,
  };
}
