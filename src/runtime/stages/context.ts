import type { RuntimeGraph, DatasetSpec } from '../../graph/types.js';
import type { CtStats } from '../data/preprocess/normalize.js';
import type { PreprocessedDataset } from '../data/types.js';
import type { EvaluationResult, RunEvents } from '../events.js';
import { isAbsolute, resolve } from 'node:path';

/** What stages hand to each other during one run. */
export interface RunState {
  preprocessed: Map<string, PreprocessedDataset>;
  /** CT normalisation statistics used per dataset (for the plans.json of every trained model). */
  statistics: Map<string, CtStats>;
  /** Stage id of a train/finetune stage → its checkpoint folder. */
  checkpoints: Map<string, string>;
  results: EvaluationResult[];
  timings: Record<string, number>;
}

export interface StageContext {
  graph: RuntimeGraph;
  runDir: string;
  dataRoot: string;
  /** Preprocessing cache: a folder, null for none, undefined for the default `<dataRoot>/.mtc-cache`. */
  cacheDir?: string | null;
  events: RunEvents;
  signal?: AbortSignal;
  state: RunState;
}

export function datasetSpec(ctx: StageContext, name: string): DatasetSpec {
  const spec = ctx.graph.datasets.find((d) => d.name === name);
  if (!spec) throw new Error(`the graph names dataset '${name}' but does not declare it`);
  return spec;
}

/** A dataset's folder: absolute roots stay, relative ones resolve against the data root. */
export function datasetDir(ctx: Pick<StageContext, 'dataRoot'>, spec: DatasetSpec): string {
  return isAbsolute(spec.root) ? spec.root : resolve(ctx.dataRoot, spec.root);
}

export function preprocessedFor(ctx: StageContext, names: string[]): PreprocessedDataset[] {
  return names.map((n) => {
    const d = ctx.state.preprocessed.get(n);
    if (!d) throw new Error(`dataset '${n}' has not been preprocessed in this run`);
    return d;
  });
}
