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

/**
 * `cached`: its outputs were already in the store under its key, so it did not run; `interrupted`:
 * stopped on request (Ctrl-C) after saving what can be resumed; `skipped`: not run because a stage
 * it needs failed or was interrupted, or `--only` left it out.
 */
export type StageStatus = 'pending' | 'running' | 'done' | 'cached' | 'failed' | 'interrupted' | 'skipped';

/** One finished training epoch (also a line of the stage's history.json). */
export interface EpochRecord {
  epoch: number;
  phase: number;
  lr: number;
  meanLoss: number;
  /** nnU-Net's pseudo-Dice per class (`dataset/class`) on the validation patches; null where undefined. Absent without validation. */
  pseudoDice?: Record<string, number | null>;
  /** Mean of the defined per-class pseudo-Dice values. */
  meanPseudoDice?: number | null;
  /** Moving average of meanPseudoDice (0.9 old + 0.1 new), which picks the `best` checkpoint. */
  ema?: number | null;
  /** Seconds the epoch took (training and validation). */
  seconds: number;
}

export type RunStatus = 'done' | 'failed' | 'interrupted';

/** What an activity is: a stage of the graph, or work of a command outside a run (`mtc infer`). */
export type ActivityKind = StageKind | 'infer';

/**
 * Everything the runtime tells the outside world. The runtime knows no screen: the Ink, plain and
 * JSON renderers subscribe to these events.
 */
export type RunEvent =
  | {
      type: 'run-start';
      graph: RuntimeGraph;
      backend: string;
      /** The run folder of each experiment of the graph. */
      runDirs: Record<string, string>;
      /** The stage store (shared by every run). */
      store: string;
      /** Stages run at the same time at most. */
      jobs: number;
    }
  /** `key` is absent when the stage announces itself before its key is known (prepare hashes its files first). */
  | { type: 'stage-start'; stage: string; kind: ActivityKind; description: string; key?: string }
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
      /** The memory of the process running the stage (bytes): its resident set, and tensors held by TensorFlow.js. */
      memory?: { rss: number; tensors?: number };
    }
  /** `level: 'warning'`: something the user should look at (the screen lists warnings apart). */
  | { type: 'stage-log'; stage: string; message: string; level?: 'info' | 'warning' }
  /**
   * A stage that runs as a cluster job (`--executor slurm`): its job (`123`, or `123_4` for an array
   * task) and the scheduler's state of it (PENDING, RUNNING, ...) with the reason Slurm gives; sent
   * at submission and whenever the state or reason changes.
   */
  | { type: 'stage-job'; stage: string; job: string; state: string; reason?: string }
  /** Why a stage is not served from the store (`--explain-cache`): one line per changed field. */
  | { type: 'stage-cache'; stage: string; key: string; cached: boolean; changes: string[] }
  | { type: 'epoch'; stage: string; record: EpochRecord; best: boolean }
  | { type: 'checkpoint'; stage: string; kind: 'latest' | 'best' | 'final'; epoch: number }
  | {
      type: 'stage-end';
      stage: string;
      status: Exclude<StageStatus, 'pending' | 'running'>;
      seconds: number;
      /** The stage key (absent when it never got one: skipped before its inputs existed). */
      key?: string;
      error?: string;
      /** Facts for the record (metrics, weights_sha256, ...), as in the stage's manifest. */
      summary?: Record<string, unknown>;
    }
  | { type: 'evaluation'; result: EvaluationResult }
  | { type: 'run-end'; status: RunStatus; runDirs: Record<string, string>; seconds: number; results: EvaluationResult[] }
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
