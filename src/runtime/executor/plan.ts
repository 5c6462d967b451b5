/**
 * The plan of a run: the graph's stages, which experiment owns which (an experiment's stages are
 * its report and everything upstream of it; shared stages belong to several), each experiment's
 * run folder, and a readable account of each stage for `--dry-run`.
 */
import { join } from 'node:path';
import type { RuntimeGraph, Stage } from '../../graph/types.js';
import { sha256Hex } from './keys.js';
import { staticKeys } from './keys.js';

export interface PlannedExperiment {
  name: string;
  /** Its stages, in graph order. */
  stages: string[];
  /** Hash of the experiment's resolved stages (static keys), the package version and the backend: its run folder's name. */
  runKey: string;
  runDir: string;
}

export interface Plan {
  graph: RuntimeGraph;
  backend: string;
  experiments: PlannedExperiment[];
  storeDir: string;
}

/**
 * An experiment's stages, in graph order: its report `report:NAME` and every stage upstream of it.
 * An experiment that trains on every case (`folds none`) has no evaluation and no report: then its
 * own stages (its trainings) and everything upstream of them.
 */
export function stagesOf(graph: RuntimeGraph, experiment: string): string[] {
  const report = graph.stages.find((s) => s.kind === 'report' && s.experiment === experiment);
  const roots = report ? [report] : graph.stages.filter((s) => 'experiment' in s && s.experiment === experiment);
  if (roots.length === 0) throw new Error(`the graph has no stage of experiment '${experiment}'`);
  const byId = new Map(graph.stages.map((s) => [s.id, s]));
  const need = new Set<string>();
  const visit = (id: string) => {
    if (need.has(id)) return;
    need.add(id);
    for (const d of byId.get(id)?.deps ?? []) visit(d);
  };
  for (const r of roots) visit(r.id);
  return graph.stages.filter((s) => need.has(s.id)).map((s) => s.id);
}

/** The part of the graph one experiment needs (what its run folder's graph.yaml holds). */
export function subgraph(graph: RuntimeGraph, experiment: string): RuntimeGraph {
  const ids = new Set(stagesOf(graph, experiment));
  const stages = graph.stages.filter((s) => ids.has(s.id));
  const used = new Set(stages.flatMap((s) => ('datasets' in s ? s.datasets : [])));
  return { ...graph, source: { ...graph.source, experiments: [experiment] }, datasets: graph.datasets.filter((d) => used.has(d.name)), stages };
}

/** `fold K`, or for a training on every case (fold null, `folds none`) `on every case`. */
function foldText(fold: number | null): string {
  return fold === null ? 'on every case' : `fold ${fold}`;
}

/** A stage id as a file name: `train:md_unet/fold0` -> `train-md_unet-fold0`. */
export function stageSlug(id: string): string {
  return id.replace(/[:/@]/g, '-').replace(/[^A-Za-z0-9_.+-]/g, '_');
}

export function makePlan(graph: RuntimeGraph, options: { runsDir: string; storeDir?: string; backend: string }): Plan {
  const keys = staticKeys(graph, options.backend);
  const experiments = graph.source.experiments.map((name) => {
    const stages = stagesOf(graph, name);
    const report = stages[stages.length - 1];
    const runKey = sha256Hex(`${name}\u0000${keys.get(report) ?? ''}`).slice(0, 12);
    return { name, stages, runKey, runDir: join(options.runsDir, name, runKey) };
  });
  return { graph, backend: options.backend, experiments, storeDir: options.storeDir ?? join(options.runsDir, '.store') };
}

/** One line: what a stage does. */
export function describeStage(stage: Stage): string {
  switch (stage.kind) {
    case 'prepare':
      return `check dataset '${stage.datasets[0]}' (synthesise it if missing) and hash its files`;
    case 'preprocess':
      return `crop, CT-normalise${stage.normalization.statsFrom ? ` (statistics of ${stage.normalization.statsFrom})` : ''}, resample ${stage.datasets.length} dataset${stage.datasets.length === 1 ? '' : 's'} to ${stage.spacing.join('x')} mm`;
    case 'train':
      const on = stage.fold === null ? 'on every case of' : `fold ${stage.fold} on`;
      return `train '${stage.experiment}' ${on} ${stage.datasets.length} dataset${stage.datasets.length === 1 ? '' : 's'}, ${stage.heads.length} heads`;
    case 'finetune':
      return `fine-tune '${stage.experiment}' ${foldText(stage.fold)} from ${stage.from}, ${stage.heads.length} new heads`;
    case 'evaluate':
      return `Dice of '${stage.experiment}' on the validation cases of fold${stage.models.length === 1 ? '' : 's'} ${stage.models.map((m) => m.fold).join(', ')}`;
    case 'report':
      return `metrics of '${stage.experiment}'`;
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The key parameters of a stage, for `--dry-run`: epochs and phases, batch, folds, sampling shares, patch, spacing. */
export function stageParameters(stage: Stage): string[] {
  switch (stage.kind) {
    case 'prepare':
      return [];
    case 'preprocess':
      return [
        `datasets ${stage.datasets.join(', ')}`,
        `spacing [${stage.spacing.join(', ')}] mm, CT normalisation ${stage.normalization.statsFrom ? `with the statistics of ${stage.normalization.statsFrom}` : `over ${stage.normalization.scope === 'collection' ? 'these datasets' : 'each dataset'}`}`,
      ];
    case 'train':
    case 'finetune': {
      const s = stage.schedule;
      const phases = s.phases.map((p) => `${p.trains} ${p.epochs}`).join(' + ');
      const a = stage.architecture;
      return [
        `${a.kind} '${a.name}', patch [${a.patch.join(', ')}] at [${(a.spacing ?? []).join(', ')}] mm, features ${a.features.join('/')}, ${stage.heads.length} heads`,
        `${s.epochs} epochs x ${s.iterationsPerEpoch} iterations (${phases}), ${s.optimizer.kind}, batch ${stage.batch}, seed ${stage.seed}`,
        `${stage.fold === null ? 'every case (folds none)' : `fold ${stage.fold} of ${stage.split.folds}`}; ` +
          `validation ${s.validationIterations ?? 0} batches per epoch; latest checkpoint every ${s.checkpointEvery ?? '-'} epochs`,
        `sampling ${stage.sampling.kind} (foreground ${stage.sampling.foregroundFraction}): ${Object.entries(stage.sampling.shares).map(([d, v]) => `${d} ${pct(v)}`).join(', ')}`,
        `loss ${stage.loss}, augmentation ${stage.augmentation?.name ?? 'none'}, precision ${stage.precision ?? 'fp32'}`,
      ];
    }
    case 'evaluate':
      return [`folds ${stage.models.map((m) => m.fold).join(', ')} of ${stage.split.folds}; step ${stage.inference.stepFraction}, ${stage.inference.mirror ? 'mirroring' : 'no mirroring'}; ${(stage.metrics ?? ['dice']).join(', ')}`];
    case 'report':
      return (stage.classSets ?? []).length > 0 ? [`groups ${(stage.classSets ?? []).map((c) => c.name).join(', ')}`] : [];
  }
}
