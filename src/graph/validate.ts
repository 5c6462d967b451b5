import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { graphSchema } from './schema.js';
import type { RuntimeGraph, Stage } from './types.js';

export class GraphValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid runtime graph:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'GraphValidationError';
  }
}

/** Compiled on first use: compiling the schema takes a few hundred ms that `mtc check` never needs. */
let compiled: ValidateFunction | null = null;
function validateShape(value: unknown): boolean {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(graphSchema);
  return compiled(value);
}

function describe(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`;
}

/** Cross-field rules that JSON Schema cannot state: ids, references, ordering, phase totals. */
function semanticProblems(graph: RuntimeGraph): string[] {
  const problems: string[] = [];
  const datasetNames = new Set(graph.datasets.map((d) => d.name));
  const seen = new Map<string, Stage>();
  const needDataset = (where: string, name: string) => {
    if (!datasetNames.has(name)) problems.push(`${where} names unknown dataset '${name}'`);
  };
  for (const stage of graph.stages) {
    const where = `stage '${stage.id}'`;
    if (seen.has(stage.id)) problems.push(`${where} is declared twice`);
    for (const dep of stage.deps) {
      if (!seen.has(dep)) problems.push(`${where} depends on '${dep}', which does not come before it`);
    }
    if ('datasets' in stage) for (const d of stage.datasets) needDataset(where, d);
    if (stage.kind === 'train' || stage.kind === 'finetune') {
      for (const h of stage.heads) needDataset(`${where} head '${h.name}'`, h.dataset);
      const total = stage.schedule.phases.reduce((s, p) => s + p.epochs, 0);
      if (total !== stage.schedule.epochs) {
        problems.push(`${where}: phases add up to ${total} epochs, schedule says ${stage.schedule.epochs}`);
      }
      const a = stage.architecture;
      if (a.strides.length !== a.features.length) {
        problems.push(`${where}: ${a.features.length} feature stages but ${a.strides.length} strides`);
      }
      if (a.kernels !== undefined && a.kernels.length !== a.features.length) {
        problems.push(`${where}: ${a.features.length} feature stages but ${a.kernels.length} kernels`);
      }
      if (a.blocksPerStage !== undefined && a.blocksPerStage.length !== a.features.length) {
        problems.push(`${where}: ${a.features.length} feature stages but ${a.blocksPerStage.length} blocks per stage`);
      }
      for (const t of stage.targets ?? []) {
        if (!stage.heads.some((h) => `${h.dataset}.${h.name}` === t)) problems.push(`${where}: target '${t}' has no head`);
      }
      for (let axis = 0; axis < 3; axis++) {
        const total = a.strides.reduce((s, v) => s * v[axis], 1);
        if (a.patch[axis] % total !== 0) {
          const lo = Math.max(total, Math.floor(a.patch[axis] / total) * total);
          problems.push(
            `${where}: patch ${a.patch[axis]} on axis ${axis} is not divisible by the total stride ${total}, so it does not fit the network; ` +
              `use a multiple of ${total} (e.g. ${lo === a.patch[axis] ? lo + total : lo} or ${Math.ceil(a.patch[axis] / total) * total})`,
          );
        }
      }
    }
    const needStage = (what: string, id: string, kinds: readonly Stage['kind'][]) => {
      const s = seen.get(id);
      if (s === undefined) problems.push(`${where} ${what} '${id}', which does not come before it`);
      else if (!kinds.includes(s.kind)) problems.push(`${where} ${what} '${id}', which is a ${s.kind} stage, not ${kinds.join(' or ')}`);
      else if (!stage.deps.includes(id)) problems.push(`${where} ${what} '${id}' but does not depend on it`);
    };
    if (stage.kind === 'preprocess' && stage.normalization.statsFrom !== null) {
      needStage('takes its normalisation from', stage.normalization.statsFrom, ['preprocess']);
    }
    if (stage.kind === 'train' || stage.kind === 'finetune' || stage.kind === 'evaluate') needStage('reads its cases from', stage.data, ['preprocess']);
    if (stage.kind === 'train' || stage.kind === 'finetune') {
      if (stage.fold !== null && stage.fold >= stage.split.folds) {
        problems.push(`${where}: fold ${stage.fold} does not exist in a ${stage.split.folds}-fold split`);
      }
    }
    if (stage.kind === 'finetune') needStage('fine-tunes from', stage.from, ['train', 'finetune']);
    if (stage.kind === 'evaluate') {
      const folds = new Set<number>();
      for (const m of stage.models) {
        needStage('evaluates', m.stage, ['train', 'finetune']);
        const trained = seen.get(m.stage);
        if (trained && (trained.kind === 'train' || trained.kind === 'finetune') && trained.fold === null) {
          problems.push(`${where} evaluates '${m.stage}', which trained on every case (fold null): it has no validation cases`);
        }
        if (folds.has(m.fold)) problems.push(`${where} evaluates fold ${m.fold} twice`);
        if (m.fold >= stage.split.folds) problems.push(`${where}: fold ${m.fold} does not exist in a ${stage.split.folds}-fold split`);
        folds.add(m.fold);
      }
    }
    if (stage.kind === 'report') for (const e of stage.evaluations) needStage('reports', e, ['evaluate']);
    seen.set(stage.id, stage);
  }
  for (const e of graph.source.experiments) {
    // An experiment that trains on every case (fold null, `folds none`) has nothing to evaluate or report.
    const onEveryCase = graph.stages.some((s) => (s.kind === 'train' || s.kind === 'finetune') && s.experiment === e && s.fold === null);
    if (!onEveryCase && !graph.stages.some((s) => s.kind === 'report' && s.experiment === e)) problems.push(`experiment '${e}' has no report stage`);
  }
  return problems;
}

/** Validates an unknown value as a RuntimeGraph; throws GraphValidationError listing every problem. */
export function validateGraph(value: unknown): RuntimeGraph {
  if (!validateShape(value)) {
    throw new GraphValidationError((compiled?.errors ?? []).map(describe));
  }
  const graph = value as RuntimeGraph;
  const problems = semanticProblems(graph);
  if (problems.length > 0) throw new GraphValidationError(problems);
  return graph;
}
