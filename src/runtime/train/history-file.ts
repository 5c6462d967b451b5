/**
 * history.json: a trained stage's per-epoch record, next to its checkpoint (model.json), for plots
 * and reports. One entry per epoch with the phase, the learning rate and the mean training loss,
 * plus whatever else the training loop records per epoch (e.g. `pseudoDice` once validation runs).
 * See docs/inference.md ("Files next to a model").
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PhaseSpec } from '../../graph/types.js';
import type { EpochRecord } from '../events.js';
import { writeFileAtomic } from '../io/atomic.js';

export const HISTORY_FORMAT = 'multitalent-history';
export const HISTORY_VERSION = 1;
export const HISTORY_FILE = 'history.json';

export interface HistoryEpoch {
  /** 0-based epoch over all phases. */
  epoch: number;
  /** 0-based phase index into `phases`. */
  phase: number;
  lr: number;
  /** Mean training loss over the epoch's iterations. */
  loss: number;
  /** Validation pseudo-Dice (mean over classes), when the loop measured it. */
  pseudoDice?: number | null;
  /** Per class `dataset/class`, when measured. */
  pseudoDicePerClass?: Record<string, number | null>;
  /** Moving average of the pseudo-Dice (0.9 old + 0.1 new) that picks the `best` checkpoint. */
  ema?: number | null;
  seconds?: number;
  [extra: string]: unknown;
}

export interface TrainingHistory {
  format: typeof HISTORY_FORMAT;
  version: number;
  stage: string;
  experiment: string;
  iterationsPerEpoch: number;
  phases: (PhaseSpec & { index: number })[];
  epochs: HistoryEpoch[];
  /** Wall-clock seconds of training. */
  seconds: number;
}

/** The history of a training run from the loop's per-epoch records (events.ts's EpochRecord). */
export function buildHistory(
  stage: string,
  experiment: string,
  phases: readonly PhaseSpec[],
  iterationsPerEpoch: number,
  records: readonly EpochRecord[],
  seconds: number,
): TrainingHistory {
  return {
    format: HISTORY_FORMAT,
    version: HISTORY_VERSION,
    stage,
    experiment,
    iterationsPerEpoch,
    phases: phases.map((p, index) => ({ index, ...structuredClone(p) })),
    epochs: records.map((r): HistoryEpoch => ({
      epoch: r.epoch,
      phase: r.phase,
      lr: r.lr,
      loss: r.meanLoss,
      ...(r.meanPseudoDice !== undefined ? { pseudoDice: r.meanPseudoDice } : {}),
      ...(r.pseudoDice !== undefined ? { pseudoDicePerClass: { ...r.pseudoDice } } : {}),
      ...(r.ema !== undefined ? { ema: r.ema } : {}),
      seconds: r.seconds,
    })),
    seconds,
  };
}

export async function writeHistory(dir: string, history: TrainingHistory): Promise<void> {
  await writeFileAtomic(join(dir, HISTORY_FILE), `${JSON.stringify(history, null, 2)}\n`);
}

/** Reads `dir/history.json`, or null when there is none or it is not a history file. */
export async function readHistory(dir: string): Promise<TrainingHistory | null> {
  try {
    const v = JSON.parse(await readFile(join(dir, HISTORY_FILE), 'utf8')) as TrainingHistory;
    return v.format === HISTORY_FORMAT && Array.isArray(v.epochs) ? v : null;
  } catch {
    return null;
  }
}
