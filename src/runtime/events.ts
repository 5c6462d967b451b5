import type { RuntimeGraph, StageKind } from '../graph/types.js';

/** Dice of one class on the evaluated cases. `dice` is the mean over cases where it is defined. */
export interface ClassMetric {
  dataset: string;
  name: string;
  dice: number | null;
  /** Per-case Dice; null where both prediction and reference are empty (nnU-Net's NaN). */
  perCase: Record<string, number | null>;
  /**
   * HD95 in mm (when the evaluation asks for it): the mean over cases where it is defined (infinite
   * when a case has exactly one empty mask), and per case (null: both masks empty).
   */
  hd95?: number | null;
  perCaseHd95?: Record<string, number | null>;
}

export interface EvaluationResult {
  stage: string;
  experiment: string;
  classes: ClassMetric[];
  /** Mean over classes with a defined Dice. */
  meanDice: number | null;
}

export type StageStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

/** What an activity is: a stage of the graph, or work of a command outside a run (`mtc infer`). */
export type ActivityKind = StageKind | 'infer';

/**
 * Everything the runtime tells the outside world. The runtime knows no screen: the Ink, plain and
 * JSON renderers subscribe to these events.
 */
export type RunEvent =
  | { type: 'run-start'; graph: RuntimeGraph; runDir: string; backend: string }
  | { type: 'stage-start'; stage: string; kind: ActivityKind; description: string }
  | {
      type: 'stage-progress';
      stage: string;
      /** Completed units (iterations, cases, ...) and the total; `unit` names them. */
      done: number;
      total: number;
      unit: string;
      /** Units per second over a recent window, when known. */
      rate?: number;
      loss?: number;
      lr?: number;
      epoch?: number;
      /** What is being worked on right now, e.g. the case being resampled. */
      detail?: string;
    }
  | { type: 'stage-log'; stage: string; message: string }
  | { type: 'stage-end'; stage: string; status: Exclude<StageStatus, 'pending' | 'running'>; seconds: number; error?: string }
  | { type: 'evaluation'; result: EvaluationResult }
  | { type: 'run-end'; status: 'done' | 'failed'; runDir: string; seconds: number; results: EvaluationResult[] }
  /** A command outside a run (`mtc infer`): its activities are announced up front, like a run's stages. */
  | { type: 'job-start'; command: string; title: string; backend: string; folder: string; activities: string[] }
  | { type: 'job-end'; command: string; status: 'done' | 'failed'; folder: string; seconds: number };

export type RunListener = (event: RunEvent) => void;

/** A tiny synchronous event bus; renderers subscribe, the executor emits. */
export class RunEvents {
  private readonly listeners = new Set<RunListener>();

  subscribe(listener: RunListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: RunEvent): void {
    for (const l of this.listeners) l(event);
  }
}
