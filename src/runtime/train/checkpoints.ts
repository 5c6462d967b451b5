/**
 * Training checkpoints: `latest` (a resume point, every `schedule.checkpointEvery` epochs and on
 * Ctrl-C), `best` (the highest moving average of the validation pseudo-Dice) and `final`. Each is
 * a folder written atomically (temporary sibling, then renamed into place; see io/atomic.ts):
 *
 *   model.json, weights.bin   the network, in the model checkpoint format (model/checkpoint.ts)
 *   optimizer.bin             the optimiser's per-variable state, float32, in training.json's order
 *   training.json             written last: counters, history, validation averages, random-stream
 *                             positions, the optimiser's layout, the stage key and spec hash, and
 *                             the SHA-256 and size of each other file (`files`)
 *
 * A checkpoint is loaded only when every file matches its record in training.json: a truncated,
 * overwritten or missing file makes it unusable (`onDamage` is told which and why).
 *
 * Random streams: batch k draws its cases, patches and augmentation from
 * Prng.derive(seed, 'batch', k), and validation batch j from Prng.derive(seed, 'validation', j), so
 * the position in every stream is the iteration count; nothing else is random during training.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeDirAtomic, recoverDir } from '../io/atomic.js';
import { fileDamage, recordFile, type FileRecord } from '../io/integrity.js';
import { readCheckpoint, saveCheckpoint } from '../model/checkpoint.js';
import type { Network } from '../model/registry.js';
import type { HeadSpec, OutputLayout } from '../../graph/types.js';
import type { EpochRecord } from '../events.js';
import type { OptimizerState } from './optimizer.js';

export const TRAINING_STATE_FORMAT = 'mtc-training-state';
export const TRAINING_STATE_FILE = 'training.json';
export type CheckpointKind = 'latest' | 'best' | 'final';

export type { EpochRecord };

export interface ValidationTrack {
  ema: number | null;
  bestEma: number | null;
  bestEpoch: number | null;
}

export interface TrainingState {
  format: typeof TRAINING_STATE_FORMAT;
  version: 1;
  kind: CheckpointKind;
  /** The stage key of the training (a `latest` of another key is never resumed). */
  stageKey: string;
  /** SHA-256 of the resolved training parameters. */
  specHash: string;
  /** Completed iterations: the index of the next batch. */
  iteration: number;
  /** The epoch the next iteration belongs to, and how many of its iterations are done. */
  epoch: number;
  iterationInEpoch: number;
  /** Sum of the losses of the epoch's completed iterations (its mean is recorded at the epoch's end). */
  epochLossSum: number;
  /** Seconds spent in the current epoch so far. */
  epochSeconds: number;
  /** The schedule's total epochs when written. */
  totalEpochs: number;
  /** The phase whose optimiser the saved optimiser state belongs to (phases may have their own). */
  optimizerPhase?: number;
  history: EpochRecord[];
  validation: ValidationTrack;
  rng: { seed: number; batches: string; validation: string; nextBatch: number };
  optimizer: { kind: OptimizerState['kind']; slots: Array<{ variable: string; slot: string; shape: number[]; offset: number }>; steps: Record<string, number> };
  /** Content records of the checkpoint's other files (model.json, weights.bin, optimizer.bin); absent in older checkpoints. */
  files?: Record<string, FileRecord>;
  savedAt: string;
}

export interface LoadedTraining {
  dir: string;
  state: TrainingState;
  optimizer: OptimizerState;
  weights: Map<string, Float32Array>;
}

/** Writes a checkpoint folder atomically (see the module doc). */
export async function saveTrainingCheckpoint(
  dir: string,
  model: Network,
  optimizer: OptimizerState,
  state: Omit<TrainingState, 'format' | 'version' | 'optimizer' | 'savedAt' | 'files'>,
  output?: { layout: OutputLayout; classes: HeadSpec[] },
): Promise<void> {
  const slots: TrainingState['optimizer']['slots'] = [];
  let total = 0;
  for (const s of optimizer.slots) {
    slots.push({ variable: s.variable, slot: s.slot, shape: s.shape, offset: total });
    total += s.values.length;
  }
  const all = new Float32Array(total);
  optimizer.slots.forEach((s, i) => all.set(s.values, slots[i].offset));
  const full: TrainingState = {
    format: TRAINING_STATE_FORMAT,
    version: 1,
    ...state,
    optimizer: { kind: optimizer.kind, slots, steps: optimizer.steps },
    savedAt: new Date().toISOString(),
  };
  await writeDirAtomic(dir, async (tmp) => {
    await saveCheckpoint(model, tmp, output);
    await writeFileAtomic(join(tmp, 'optimizer.bin'), new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    full.files = {};
    for (const f of CHECKPOINT_FILES) full.files[f] = await recordFile(join(tmp, f));
    await writeFileAtomic(join(tmp, TRAINING_STATE_FILE), `${JSON.stringify(full)}\n`);
  });
}

/** The files of a checkpoint that training.json records. */
const CHECKPOINT_FILES = ['model.json', 'weights.bin', 'optimizer.bin'] as const;

/**
 * Reads a checkpoint folder (repairing an interrupted replacement first); null when there is none,
 * it is incomplete, or a file does not match its record (then `onDamage` says which and why).
 */
export async function loadTrainingCheckpoint(dir: string, options: { onDamage?: (problem: string) => void } = {}): Promise<LoadedTraining | null> {
  if (!(await recoverDir(dir, TRAINING_STATE_FILE))) return null;
  let state: TrainingState;
  try {
    state = JSON.parse(await readFile(join(dir, TRAINING_STATE_FILE), 'utf8')) as TrainingState;
  } catch {
    options.onDamage?.(`${join(dir, TRAINING_STATE_FILE)} is not valid JSON`);
    return null;
  }
  if (state.format !== TRAINING_STATE_FORMAT || state.version !== 1) return null;
  for (const [f, rec] of Object.entries(state.files ?? {})) {
    // Read once on resume: hash in full (a resume is rare, the files are small next to training).
    const damage = await fileDamage(join(dir, f), rec, { full: true });
    if (damage) {
      options.onDamage?.(damage);
      return null;
    }
  }
  const bin = await readFile(join(dir, 'optimizer.bin'));
  const all = new Float32Array(bin.byteLength / 4);
  new Uint8Array(all.buffer).set(bin);
  const optimizer: OptimizerState = {
    kind: state.optimizer.kind,
    steps: state.optimizer.steps,
    slots: state.optimizer.slots.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (s.offset + n > all.length) throw new Error(`${dir}/optimizer.bin is shorter than training.json describes`);
      return { variable: s.variable, slot: s.slot, shape: s.shape, values: all.slice(s.offset, s.offset + n) };
    }),
  };
  const { weights } = await readCheckpoint(dir);
  const values = new Map<string, Float32Array>();
  for (const [name, w] of weights) values.set(name, w.values);
  return { dir, state, optimizer, weights: values };
}
