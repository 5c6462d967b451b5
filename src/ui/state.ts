import type { ActivityKind, EpochRecord, EvaluationResult, RunEvent, RunStatus, StageStatus } from '../runtime/events.js';

/** What a screen needs to know about one stage; derived from the event stream only. */
export interface StageView {
  id: string;
  kind: ActivityKind;
  status: StageStatus;
  description: string;
  done: number;
  total: number;
  unit: string;
  rate?: number;
  loss?: number;
  lr?: number;
  epoch?: number;
  detail?: string;
  seconds?: number;
  error?: string;
  lastLog?: string;
  /** The stage key (its store entry), once known. */
  key?: string;
  /** Trainings: the last finished epoch (loss, pseudo-Dice, its moving average). */
  lastEpoch?: EpochRecord;
  /** Trainings: the last checkpoint written. */
  checkpoint?: { kind: string; epoch: number };
  /** With --explain-cache: what changed since the stage's last stored run. */
  cacheChanges?: string[];
  summary?: Record<string, unknown>;
  /** Trainings: the number of epochs of the schedule (from the graph). */
  epochs?: number;
  /** Depth in the stage tree (0 for a stage without dependencies) and the dependency it hangs under. */
  depth: number;
  parent?: string;
  /** Trainings: the loss of every iteration so far, for a sparkline, in at most SPARK_POINTS buckets. */
  lossTrace?: LossTrace;
  /** The memory of the process running the stage, from its last progress event. */
  memory?: { rss: number; tensors?: number };
  /** A stage that runs as a cluster job (`--executor slurm`): the job and the scheduler's state of it. */
  job?: { id: string; state: string; reason?: string };
}

/**
 * A bounded record of a whole training's loss: each point is the mean of `per` iterations; when
 * the points fill up, neighbours merge and `per` doubles, so the trace always spans the run.
 */
export interface LossTrace {
  points: number[];
  per: number;
  /** The iterations not yet a full point: their sum and count. */
  sum: number;
  count: number;
}

export const SPARK_POINTS = 128;

export function pushLoss(trace: LossTrace | undefined, loss: number): LossTrace {
  if (!Number.isFinite(loss)) return trace ?? { points: [], per: 1, sum: 0, count: 0 };
  const t = trace ?? { points: [], per: 1, sum: 0, count: 0 };
  const sum = t.sum + loss;
  const count = t.count + 1;
  if (count < t.per) return { ...t, sum, count };
  let points = [...t.points, sum / count];
  let per = t.per;
  if (points.length >= SPARK_POINTS) {
    const merged: number[] = [];
    for (let i = 0; i + 1 < points.length; i += 2) merged.push((points[i] + points[i + 1]) / 2);
    points = merged; // an odd last point is dropped with its half-bucket: at most one point of 128
    per *= 2;
  }
  return { points, per, sum: 0, count: 0 };
}

/** The trace's values, the unfinished bucket included (the latest loss shows at once). */
export function traceValues(trace: LossTrace | undefined): number[] {
  if (!trace) return [];
  return trace.count > 0 ? [...trace.points, trace.sum / trace.count] : trace.points;
}

export interface RunWarning {
  stage: string;
  message: string;
}

/** Warnings kept for the screen (the latest ones; the plain log and events.jsonl keep them all). */
export const MAX_WARNINGS = 20;

export interface RunView {
  /** The command shown in the header (`run`, `infer`). */
  command: string;
  /** The experiments of the run, joined for a header. */
  experiment: string;
  experiments: string[];
  /** The run folder (the first one when the run has several experiments). */
  runDir: string;
  runDirs: Record<string, string>;
  backend: string;
  stages: StageView[];
  results: EvaluationResult[];
  finished: null | { status: RunStatus; seconds: number };
  /** Warnings (stage logs marked as such, failures, skips), oldest first, at most MAX_WARNINGS. */
  warnings: RunWarning[];
  /** Stages at the same time at most (`--jobs`). */
  jobs: number;
}

export const emptyRunView: RunView = {
  command: 'run',
  experiment: '',
  experiments: [],
  runDir: '',
  runDirs: {},
  backend: '',
  stages: [],
  results: [],
  finished: null,
  warnings: [],
  jobs: 1,
};

function pendingStage(id: string, kind: ActivityKind): StageView {
  return { id, kind, status: 'pending', description: '', done: 0, total: 0, unit: '', depth: 0 };
}

function updateStage(view: RunView, id: string, patch: Partial<StageView> | ((s: StageView) => Partial<StageView>)): RunView {
  const i = view.stages.findIndex((s) => s.id === id);
  if (i < 0) return view;
  const stages = view.stages.slice();
  stages[i] = { ...stages[i], ...(typeof patch === 'function' ? patch(stages[i]) : patch) };
  return { ...view, stages };
}

function warn(view: RunView, w: RunWarning): RunView {
  const warnings = [...view.warnings, w];
  return { ...view, warnings: warnings.length > MAX_WARNINGS ? warnings.slice(-MAX_WARNINGS) : warnings };
}

/** Each stage's depth in the dependency tree (longest path from a stage without dependencies). */
function treeDepths(stages: readonly { id: string; deps: readonly string[] }[]): Map<string, number> {
  const depth = new Map<string, number>();
  const byId = new Map(stages.map((s) => [s.id, s]));
  for (const s of stages) {
    // Graph order is topological; a dependency not seen yet (or unknown) counts as a root.
    const d = s.deps.reduce((m, dep) => Math.max(m, byId.has(dep) ? (depth.get(dep) ?? 0) + 1 : 0), 0);
    depth.set(s.id, d);
  }
  return depth;
}

/** Pure reducer from run events to the view model that the Ink renderer draws. */
export function reduceRunView(view: RunView, event: RunEvent): RunView {
  switch (event.type) {
    case 'run-start': {
      const depths = treeDepths(event.graph.stages);
      return {
        ...emptyRunView,
        jobs: event.jobs,
        experiment: event.graph.source.experiments.join(', '),
        experiments: [...event.graph.source.experiments],
        runDir: Object.values(event.runDirs)[0] ?? '',
        runDirs: { ...event.runDirs },
        backend: event.backend,
        stages: event.graph.stages.map((s) => {
          const depth = depths.get(s.id) ?? 0;
          // The tree hangs a stage under its deepest dependency (the one it waits for last).
          const parent = s.deps.filter((d) => depths.has(d)).sort((a, b) => (depths.get(b) ?? 0) - (depths.get(a) ?? 0))[0];
          const epochs = s.kind === 'train' || s.kind === 'finetune' ? s.schedule.epochs : undefined;
          return {
            id: s.id,
            kind: s.kind,
            status: 'pending' as const,
            description: '',
            done: 0,
            total: 0,
            unit: '',
            depth,
            ...(parent ? { parent } : {}),
            ...(epochs !== undefined ? { epochs } : {}),
          };
        }),
      };
    }
    case 'job-start':
      return {
        ...emptyRunView,
        command: event.command,
        experiment: event.title,
        runDir: event.folder,
        backend: event.backend,
        stages: event.activities.map((id) => pendingStage(id, 'infer')),
      };
    case 'stage-start': {
      const known = view.stages.some((s) => s.id === event.stage) ? view : { ...view, stages: [...view.stages, pendingStage(event.stage, event.kind)] };
      return updateStage(known, event.stage, { status: 'running', kind: event.kind, description: event.description, key: event.key });
    }
    case 'stage-progress':
      return updateStage(view, event.stage, (s) => ({
        // A stage in another process (--jobs) may report progress before its start is relayed.
        status: s.status === 'pending' ? 'running' : s.status,
        done: event.done,
        total: event.total,
        unit: event.unit,
        rate: event.rate,
        loss: event.loss,
        lr: event.lr,
        epoch: event.epoch,
        detail: event.detail,
        ...(event.loss !== undefined ? { lossTrace: pushLoss(s.lossTrace, event.loss) } : {}),
        ...(event.memory ? { memory: event.memory } : {}),
      }));
    case 'stage-log': {
      const next = updateStage(view, event.stage, { lastLog: event.message });
      return event.level === 'warning' ? warn(next, { stage: event.stage, message: event.message }) : next;
    }
    case 'stage-end': {
      const next = updateStage(view, event.stage, { status: event.status, seconds: event.seconds, error: event.error, ...(event.key ? { key: event.key } : {}), ...(event.summary ? { summary: event.summary } : {}) });
      if (event.status === 'failed') return warn(next, { stage: event.stage, message: `failed: ${event.error ?? 'no reason given'}` });
      if (event.status === 'skipped' && event.error) return warn(next, { stage: event.stage, message: `skipped: ${event.error}` });
      return next;
    }
    case 'stage-cache':
      return updateStage(view, event.stage, { key: event.key, cacheChanges: event.changes });
    case 'stage-job':
      return updateStage(view, event.stage, { job: { id: event.job, state: event.state, ...(event.reason ? { reason: event.reason } : {}) } });
    case 'epoch':
      return updateStage(view, event.stage, { lastEpoch: event.record });
    case 'checkpoint':
      return updateStage(view, event.stage, { checkpoint: { kind: event.kind, epoch: event.epoch } });
    case 'evaluation':
      return { ...view, results: [...view.results, event.result] };
    case 'run-end':
    case 'job-end':
      return { ...view, finished: { status: event.status, seconds: event.seconds } };
    default:
      return view;
  }
}

/** Remaining seconds at the current rate, or undefined when unknown. */
export function etaSeconds(stage: Pick<StageView, 'done' | 'total' | 'rate'>): number | undefined {
  if (!stage.rate || stage.rate <= 0 || stage.total <= 0) return undefined;
  return Math.max(0, (stage.total - stage.done) / stage.rate);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatDice(d: number | null): string {
  return d === null ? '  n/a' : d.toFixed(4);
}

/** The per-class Dice (and HD95, when computed) table as plain text lines (shared by the plain and Ink renderers). */
export function diceTableLines(result: EvaluationResult): string[] {
  const withHd = result.classes.some((c) => c.hd95 !== undefined);
  const mm = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v === Infinity ? 'inf' : v.toFixed(2));
  const rows = result.classes.map((c) => [c.dataset, c.name, formatDice(c.dice), ...(withHd ? [mm(c.hd95)] : [])]);
  const header = ['dataset', 'class', 'Dice', ...(withHd ? ['HD95 mm'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  const scored = result.classes.filter((c) => c.dice !== null).length;
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    `mean Dice (${result.experiment}, ${scored} ${scored === 1 ? 'class' : 'classes'}): ${formatDice(result.meanDice)}`,
  ];
}
