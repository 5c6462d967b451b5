/** What a report needs from a run folder: graph.yaml, metrics.json and each model's history and plans. */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RuntimeGraph } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import type { EvaluationSummary } from '../eval/summary.js';
import type { EvaluationResult } from '../events.js';
import { stageSlug } from '../executor/plan.js';
import { type ModelPlans, readPlans } from '../infer/plans.js';
import { type TrainingHistory, readHistory } from '../train/history-file.js';
import type { SoftwareVersions } from '../version.js';

export interface MetricsFile {
  experiment: string;
  source: string;
  evaluations: EvaluationResult[];
  summaries: EvaluationSummary[];
  stageSeconds: Record<string, number>;
  writtenAt: string;
  versions?: SoftwareVersions;
}

export interface TrainedStage {
  stage: string;
  kind: 'train' | 'finetune';
  experiment: string;
  datasets: string[];
  /** The stage it was fine-tuned from. */
  from: string | null;
  history: TrainingHistory | null;
  plans: ModelPlans | null;
}

export interface RunData {
  dir: string;
  /** The run's main experiment. */
  name: string;
  graph: RuntimeGraph | null;
  graphText: string | null;
  metrics: MetricsFile | null;
  trained: TrainedStage[];
}

/** metrics.json's JSON with "Infinity" strings turned back into numbers. */
export function parseMetricsJson(text: string): MetricsFile {
  return JSON.parse(text, (_k, v: unknown) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as MetricsFile;
}

/** Loads a run folder for the report; refuses a folder that is not a run. */
export async function loadRun(dir: string): Promise<RunData> {
  let graphText: string | null = null;
  let graph: RuntimeGraph | null = null;
  try {
    graphText = await readFile(join(dir, 'graph.yaml'), 'utf8');
    graph = parseYaml(graphText) as RuntimeGraph;
  } catch {
    graphText = null;
  }
  let metrics: MetricsFile | null = null;
  try {
    metrics = parseMetricsJson(await readFile(join(dir, 'metrics.json'), 'utf8'));
  } catch {
    metrics = null;
  }
  if (!graph && !metrics) {
    throw MtDataError.about(dir, 'is not a run folder (no graph.yaml or metrics.json)', 'Pass run folders written by mtc run (runs/EXPERIMENT/RUN_KEY)');
  }
  // each training's final checkpoint through the run folder's link to its store entry
  const trained = graph ? await trainedStages(graph, (id) => join(dir, 'stages', stageSlug(id), 'checkpoints', 'final')) : [];
  return { dir, name: metrics?.experiment ?? graph?.source.experiments.at(-1) ?? basename(dir), graph, graphText, metrics, trained };
}

/** The training stages of `graph` with the history and plans next to their checkpoints (`checkpointOf` a stage id). */
export async function trainedStages(graph: RuntimeGraph, checkpointOf: (stageId: string) => string | null): Promise<TrainedStage[]> {
  const trained: TrainedStage[] = [];
  for (const s of graph.stages) {
    if (s.kind !== 'train' && s.kind !== 'finetune') continue;
    const ckpt = checkpointOf(s.id);
    trained.push({
      stage: s.id,
      kind: s.kind,
      experiment: s.experiment,
      datasets: [...s.datasets],
      from: s.kind === 'finetune' ? s.from : null,
      history: ckpt === null ? null : await readHistory(ckpt),
      plans: ckpt === null ? null : await readPlans(ckpt).catch(() => null),
    });
  }
  return trained;
}

/** One line saying how a run's evaluated model was trained (for comparisons). */
export function describeRun(run: RunData): string {
  const last = run.trained.at(-1);
  if (!last) return run.name;
  const chain = run.trained.map((t) => `${t.kind === 'train' ? 'trained' : 'fine-tuned'} on ${t.datasets.length === 1 ? t.datasets[0] : `${t.datasets.length} datasets`}`);
  const pre = run.trained.length > 1 ? 'pretrained' : last.datasets.length > 1 ? 'multi-dataset, from scratch' : 'per-dataset, from scratch';
  return `${run.name}: ${pre} (${chain.join(', then ')})`;
}
