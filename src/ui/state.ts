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
}

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
};

function pendingStage(id: string, kind: ActivityKind): StageView {
  return { id, kind, status: 'pending', description: '', done: 0, total: 0, unit: '' };
}

function updateStage(view: RunView, id: string, patch: Partial<StageView>): RunView {
  return { ...view, stages: view.stages.map((s) => (s.id === id ? { ...s, ...patch } : s)) };
}

/** Pure reducer from run events to the view model that the Ink renderer draws. */
export function reduceRunView(view: RunView, event: RunEvent): RunView {
  switch (event.type) {
    case 'run-start':
      return {
        ...emptyRunView,
        experiment: event.graph.source.experiments.join(', '),
        experiments: [...event.graph.source.experiments],
        runDir: Object.values(event.runDirs)[0] ?? '',
        runDirs: { ...event.runDirs },
        backend: event.backend,
        stages: event.graph.stages.map((s) => pendingStage(s.id, s.kind)),
      };
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
      return updateStage(view, event.stage, {
        done: event.done,
        total: event.total,
        unit: event.unit,
        rate: event.rate,
        loss: event.loss,
        lr: event.lr,
        epoch: event.epoch,
        detail: event.detail,
      });
    case 'stage-log':
      return updateStage(view, event.stage, { lastLog: event.message });
    case 'stage-end':
      return updateStage(view, event.stage, { status: event.status, seconds: event.seconds, error: event.error, ...(event.key ? { key: event.key } : {}), ...(event.summary ? { summary: event.summary } : {}) });
    case 'stage-cache':
      return updateStage(view, event.stage, { key: event.key, cacheChanges: event.changes });
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
