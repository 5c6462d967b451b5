import { mkdir } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import { join } from 'node:path';
import type { RuntimeGraph, Stage } from '../graph/types.js';
import { validateGraph } from '../graph/validate.js';
import type { EvaluationResult, RunEvents } from './events.js';
import { writeFileAtomic } from './io/atomic.js';
import { assertInputsUsable, UnsupportedFeatureError, unsupportedFeatures } from './preflight.js';
import { stageHandlers, type RunState, type StageContext } from './stages/index.js';
import { missingDatasetsMessage } from './stages/prepare.js';

export interface RunOptions {
  /** Folder that relative dataset roots resolve against. */
  dataRoot: string;
  /** Preprocessing cache: a folder, null for none, undefined for `<dataRoot>/.mtc-cache`. */
  cacheDir?: string | null;
  /** The run folder; created if missing. */
  runDir: string;
  /** Name of the initialised tfjs backend, for the record. */
  backend: string;
  events: RunEvents;
  signal?: AbortSignal;
}

export interface RunOutcome {
  status: 'done' | 'failed';
  results: EvaluationResult[];
  error?: unknown;
}

function describeStage(stage: Stage): string {
  switch (stage.kind) {
    case 'prepare':
      return `check ${stage.datasets.length} dataset folders (synthesise missing synthetic ones)`;
    case 'preprocess':
      return `crop, CT-normalise, resample ${stage.datasets.length} datasets to ${stage.spacing.join('x')} mm`;
    case 'train':
      return `pre-train '${stage.experiment}' on ${stage.datasets.length} datasets, ${stage.heads.length} heads`;
    case 'finetune':
      return `fine-tune '${stage.experiment}' from ${stage.from}, ${stage.heads.length} new heads`;
    case 'evaluate':
      return `Dice of '${stage.experiment}' on held-out cases of ${stage.datasets.join(', ')}`;
    case 'report':
      return 'write metrics.json and the HTML report';
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Throws UnsupportedFeatureError when the graph uses what the runtime cannot execute yet, naming
 * missing data folders in the same message so that one attempt shows everything in the way.
 */
export function assertExecutable(graph: RuntimeGraph, dataRoot: string): void {
  const unsupported = unsupportedFeatures(graph);
  if (unsupported.length === 0) return;
  const names = graph.datasets.map((d) => d.name);
  throw new UnsupportedFeatureError(unsupported, missingDatasetsMessage(graph, dataRoot, names, { synthesisable: true }));
}

/**
 * Executes a compiled graph stage by stage, in the order given (the graph validator guarantees
 * dependencies come first). Emits events for every transition; never prints.
 */
export async function runGraph(graphInput: unknown, options: RunOptions): Promise<RunOutcome> {
  const graph: RuntimeGraph = validateGraph(graphInput);
  assertExecutable(graph, options.dataRoot);
  await assertInputsUsable(graph, options.dataRoot); // dataset.json vs classes, pretrained checkpoints
  const started = performance.now();
  await mkdir(options.runDir, { recursive: true });
  await writeFileAtomic(join(options.runDir, 'graph.yaml'), toYaml(graph));
  options.events.emit({ type: 'run-start', graph, runDir: options.runDir, backend: options.backend });

  const state: RunState = { preprocessed: new Map(), statistics: new Map(), checkpoints: new Map(), results: [], timings: {} };
  const failedStages = new Set<string>();
  let firstError: unknown;

  for (const stage of graph.stages) {
    const blocked = stage.deps.find((d) => failedStages.has(d));
    if (blocked || options.signal?.aborted) {
      failedStages.add(stage.id);
      options.events.emit({ type: 'stage-end', stage: stage.id, status: 'skipped', seconds: 0 });
      continue;
    }
    const t0 = performance.now();
    options.events.emit({ type: 'stage-start', stage: stage.id, kind: stage.kind, description: describeStage(stage) });
    const ctx: StageContext = { graph, runDir: options.runDir, dataRoot: options.dataRoot, cacheDir: options.cacheDir, events: options.events, signal: options.signal, state };
    try {
      // The handler map is keyed by kind; the cast only narrows the union to the matching member.
      await (stageHandlers[stage.kind] as (s: Stage, c: StageContext) => Promise<void>)(stage, ctx);
      const seconds = (performance.now() - t0) / 1000;
      state.timings[stage.id] = seconds;
      options.events.emit({ type: 'stage-end', stage: stage.id, status: 'done', seconds });
    } catch (err) {
      firstError ??= err;
      failedStages.add(stage.id);
      const seconds = (performance.now() - t0) / 1000;
      options.events.emit({ type: 'stage-end', stage: stage.id, status: 'failed', seconds, error: errorMessage(err) });
    }
  }

  const status = failedStages.size === 0 ? 'done' : 'failed';
  const seconds = (performance.now() - started) / 1000;
  options.events.emit({ type: 'run-end', status, runDir: options.runDir, seconds, results: state.results });
  return { status, results: state.results, error: firstError };
}
