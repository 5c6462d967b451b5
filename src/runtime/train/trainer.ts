import * as tf from '@tensorflow/tfjs';
import type { TrainParams } from '../../graph/types.js';
import { trainingUnsupportedReason } from '../backend.js';
import type { PreprocessedDataset } from '../data/types.js';
import { StageInterrupted } from '../interrupt.js';
import { deepSupervisionWeights } from '../loss/deep-supervision.js';
import { initFromPretrained, type PretrainedInit } from '../model/checkpoint.js';
import { Prng } from '../rng.js';
import { outputCount, UNet } from '../model/unet.js';
import { augmenterFor } from './augment.js';
import { batchToTensors, regionTables, sampleBatchArrays, type BatchArrays } from './batch.js';
import { saveTrainingCheckpoint, type CheckpointKind, type EpochRecord, type LoadedTraining, type TrainingState, type ValidationTrack } from './checkpoints.js';
import { learningRate } from './lr.js';
import { createOptimizer, type Optimizer, type OptimizerState } from './optimizer.js';
import { CaseSampler, datasetShares } from './sampler.js';
import { trainStep } from './step.js';
import { nextEma, validate, type ValidationSetup } from './validation.js';

export type { EpochRecord } from './checkpoints.js';

export interface TrainProgress {
  /** Completed iterations (1-based after the first step) and the total over all phases. */
  iteration: number;
  total: number;
  /** 0-based global epoch. */
  epoch: number;
  loss: number;
  lr: number;
  /** Iterations per second over the last few iterations. */
  itPerSec: number;
}

export interface TrainOptions {
  params: TrainParams;
  /** Preprocessed datasets; those named in params.datasets are used: `train` ids to train on, `holdout` ids to validate on. */
  data: PreprocessedDataset[];
  /** Fine-tuning: copy the backbone from this checkpoint; heads start fresh. */
  init?: { checkpointDir: string };
  /**
   * Continue from a checkpoint: an interrupted training's `latest` (an exact resume), or a finished
   * one's `final` when the schedule now has more epochs (the training is extended: the learning
   * rate laws are recomputed for the new length, from the epoch the checkpoint ended at).
   */
  resume?: LoadedTraining;
  /** Where `latest`, `best` and `final` are written (folders of that name), and the stage key they record. */
  checkpoints?: { dir: string; stageKey: string; specHash: string };
  onProgress?: (p: TrainProgress) => void;
  onLog?: (message: string) => void;
  /** After every epoch (with validation, when there is any); `best` when it became the best checkpoint. */
  onEpoch?: (record: EpochRecord, best: boolean) => void;
  onCheckpoint?: (kind: CheckpointKind, epoch: number, dir: string) => void;
  /** Aborted: the current iteration finishes, a `latest` checkpoint is written, StageInterrupted is thrown. */
  signal?: AbortSignal;
}

export interface TrainedModel {
  model: UNet;
  history: EpochRecord[];
  /** What fine-tuning copied from the checkpoint (absent for training from scratch and resumed runs). */
  init?: PretrainedInit;
  iterations: number;
  seconds: number;
  validation: ValidationTrack;
}

const RATE_WINDOW = 20;

function selectDatasets(params: TrainParams, data: readonly PreprocessedDataset[]): PreprocessedDataset[] {
  return params.datasets.map((name) => {
    const d = data.find((x) => x.name === name);
    if (!d) throw new Error(`training needs dataset '${name}', but it was not preprocessed (have: ${data.map((x) => x.name).join(', ') || 'none'})`);
    return d;
  });
}

function validateParams(params: TrainParams): void {
  if (params.loss !== 'multitalent') throw new Error(`loss '${String(params.loss)}' is not implemented in this runtime yet (only 'multitalent')`);
  if (params.heads.length === 0) throw new Error('training needs at least one output head');
  if (!Number.isInteger(params.batch) || params.batch < 1) throw new Error(`batch must be a positive integer, got ${params.batch}`);
  const s = params.schedule;
  if (!Number.isInteger(s.iterationsPerEpoch) || s.iterationsPerEpoch < 1) {
    throw new Error(`schedule '${s.name}': iterationsPerEpoch must be a positive integer`);
  }
  if (s.phases.length === 0) throw new Error(`schedule '${s.name}' has no phases`);
  for (const p of s.phases) {
    if (!Number.isInteger(p.epochs) || p.epochs < 1) throw new Error(`schedule '${s.name}': every phase needs a positive whole number of epochs`);
  }
  for (const h of params.heads) {
    if (!params.datasets.includes(h.dataset)) throw new Error(`head '${h.dataset}/${h.name}' belongs to a dataset that is not trained on`);
  }
}

/** Yields to the event loop so renderers can draw and abort signals arrive between iterations. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The phase an epoch belongs to, and the epoch's index within it. */
function phaseOf(params: TrainParams, epoch: number): { index: number; within: number } {
  let start = 0;
  const phases = params.schedule.phases;
  for (let i = 0; i < phases.length; i++) {
    if (epoch < start + phases[i].epochs) return { index: i, within: epoch - start };
    start += phases[i].epochs;
  }
  return { index: phases.length - 1, within: phases[phases.length - 1].epochs - 1 };
}

/** The optimiser's state with variable names as the model's stable parameter names (tfjs names carry a per-model prefix). */
async function stableOptimizerState(model: UNet, optimizer: Optimizer): Promise<OptimizerState> {
  const byVar = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const s = await optimizer.exportState();
  const rename = (n: string) => byVar.get(n) ?? n;
  return { ...s, slots: s.slots.map((x) => ({ ...x, variable: rename(x.variable) })), steps: Object.fromEntries(Object.entries(s.steps).map(([k, v]) => [rename(k), v])) };
}

function modelOptimizerState(model: UNet, state: OptimizerState): OptimizerState {
  const rename = (n: string) => {
    const v = model.params.get(n);
    if (!v) throw new Error(`the checkpoint holds optimiser state for '${n}', which the network does not have`);
    return v.name;
  };
  return { ...state, slots: state.slots.map((x) => ({ ...x, variable: rename(x.variable) })), steps: Object.fromEntries(Object.entries(state.steps).map(([k, v]) => [rename(k), v])) };
}

/**
 * Trains a U-Net with one sigmoid head per `params.heads` entry on the MultiTalent loss, phase by
 * phase (a `heads` phase updates only the output heads, `all` everything), each phase for its epochs
 * x iterationsPerEpoch iterations with its learning-rate law set per epoch. Batch k draws its cases,
 * patches and augmentation from Prng.derive(seed, 'batch', k), so a resumed training draws exactly
 * the batches an uninterrupted one would. Every epoch ends with validation on the fold's held-out
 * cases (validation.ts) when the schedule asks for it and there are any.
 */
export async function trainModel(opts: TrainOptions): Promise<TrainedModel> {
  const { params, signal } = opts;
  const unsupported = trainingUnsupportedReason(tf.getBackend());
  if (unsupported) throw new Error(unsupported);
  validateParams(params);
  const datasets = selectDatasets(params, opts.data);
  const sampler = new CaseSampler(datasets, params.sampling.kind);
  const log = opts.onLog ?? (() => undefined);
  const trainCounts = Object.fromEntries(datasets.map((d) => [d.name, d.train.length]));
  const shares = datasetShares(params.sampling.kind, trainCounts);
  log(
    `sampling ${params.sampling.kind}: ` +
      Object.entries(shares)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}% (${trainCounts[k]} cases)`)
        .join(', '),
  );

  const s = params.schedule;
  const totalEpochs = s.phases.reduce((a, p) => a + p.epochs, 0);
  const total = totalEpochs * s.iterationsPerEpoch;
  const resume = opts.resume;
  if (resume) {
    const r = resume.state;
    const extending = r.kind === 'final';
    if (r.iteration > total || (extending && r.totalEpochs >= totalEpochs)) {
      throw new Error(`${resume.dir}: the checkpoint is at epoch ${r.epoch} of ${r.totalEpochs}; the schedule has ${totalEpochs} epochs, so there is nothing to continue`);
    }
  }

  const t0 = performance.now();
  const model = resume ? UNet.fromWeights(params.architecture, params.heads, resume.weights) : UNet.create(params.architecture, params.heads, params.seed);
  const optimizer = createOptimizer(params.schedule.optimizer);
  try {
    log(`U-Net ${params.architecture.features.join('/')} with ${params.heads.length} heads: ${model.parameterCount()} parameters`);
    let init: PretrainedInit | undefined;
    if (resume) {
      optimizer.importState(modelOptimizerState(model, resume.optimizer));
    } else if (opts.init) {
      init = await initFromPretrained(model, opts.init.checkpointDir);
      const backboneSkipped = init.skipped.filter((x) => !x.reason.startsWith('output head'));
      if (init.copied.length === 0) {
        throw new Error(`fine-tuning copied no weights from ${opts.init.checkpointDir}: the architectures do not match`);
      }
      log(
        `initialised ${init.copied.length} backbone tensors from ${opts.init.checkpointDir}` +
          (backboneSkipped.length > 0 ? `; ${backboneSkipped.length} kept fresh: ${backboneSkipped.map((x) => `${x.name} (${x.reason})`).join(', ')}` : ''),
      );
    }

    const { augmenter, unsupported: notApplied } = augmenterFor(params.augmentation);
    if (notApplied.length > 0) {
      log(`augmentation '${params.augmentation?.name}': ${notApplied.join(', ')} not implemented in this runtime yet; applying mirroring only`);
    }
    if (outputCount(params.architecture) > 1) {
      const w = deepSupervisionWeights(outputCount(params.architecture));
      log(`deep supervision: ${w.length} outputs, loss weights ${w.map((v) => v.toFixed(3)).join(', ')} (full resolution first)`);
    }
    if (params.precision === 'mixed') log('mixed precision is not available on tfjs; training in fp32');
    const tables = regionTables(params.heads);
    const patch = params.architecture.patch;

    // Validation: the fold's held-out cases of every dataset that has some.
    const valData = datasets.filter((d) => d.holdout.length > 0).map((d) => ({ ...d, train: d.holdout }));
    const valBatches = s.validationIterations ?? 0;
    const validation: ValidationSetup | null =
      valBatches > 0 && valData.length > 0
        ? { sampler: new CaseSampler(valData, params.sampling.kind), heads: params.heads, tables, patch, batch: params.batch, foregroundFraction: params.sampling.foregroundFraction, seed: params.seed, batches: valBatches }
        : null;
    if (valBatches > 0 && validation === null) log('no validation cases in this fold: no per-epoch pseudo-Dice, and `best` is the final model');

    // Counters, continued from the checkpoint when resuming (an extended training starts the epoch after the old final one).
    const r = resume?.state;
    let iteration = r ? r.iteration : 0;
    let epoch = r ? r.epoch : 0;
    let inEpoch = r && r.kind !== 'final' ? r.iterationInEpoch : 0;
    let lossSum = r && r.kind !== 'final' ? r.epochLossSum : 0;
    let epochSeconds = r && r.kind !== 'final' ? r.epochSeconds : 0;
    const history: EpochRecord[] = r ? [...r.history] : [];
    const track: ValidationTrack = r ? { ...r.validation } : { ema: null, bestEma: null, bestEpoch: null };
    if (r) {
      log(
        r.kind === 'final'
          ? `extending the finished training: ${r.totalEpochs} -> ${totalEpochs} epochs, continuing at epoch ${epoch} with the learning-rate schedule recomputed for ${totalEpochs} epochs`
          : `resuming at epoch ${epoch}, iteration ${iteration} of ${total}`,
      );
    }

    const ck = opts.checkpoints;
    const save = async (kind: CheckpointKind): Promise<void> => {
      if (!ck) return;
      const dir = `${ck.dir}/${kind}`;
      const state: Omit<TrainingState, 'format' | 'version' | 'optimizer' | 'savedAt'> = {
        kind,
        stageKey: ck.stageKey,
        specHash: ck.specHash,
        iteration,
        epoch,
        iterationInEpoch: inEpoch,
        epochLossSum: lossSum,
        epochSeconds,
        totalEpochs,
        history,
        validation: track,
        rng: { seed: params.seed, batches: 'Prng.derive(seed, "batch", k)', validation: 'Prng.derive(seed, "validation", j)', nextBatch: iteration },
      };
      await saveTrainingCheckpoint(dir, model, await stableOptimizerState(model, optimizer), state);
      opts.onCheckpoint?.(kind, epoch, dir);
    };
    const interrupt = async (): Promise<never> => {
      await save('latest');
      throw new StageInterrupted(`interrupted at epoch ${epoch}, iteration ${iteration} of ${total}${ck ? '; the latest checkpoint was written' : ''}`);
    };

    const durations: number[] = [];
    // Batches are drawn one step ahead: while a GPU backend runs step k, the host samples batch k+1
    // (on the cpu backend the step has finished by then). Batch k depends only on k.
    const draw = (k: number): BatchArrays =>
      sampleBatchArrays(sampler, params.heads, tables, patch, params.batch, params.sampling.foregroundFraction, augmenter, Prng.derive(params.seed, 'batch', k));
    let next: BatchArrays | null = iteration < total ? draw(iteration) : null;
    let lastPhase = -1;
    while (epoch < totalEpochs) {
      const { index: pi, within } = phaseOf(params, epoch);
      const phase = s.phases[pi];
      if (pi !== lastPhase) {
        log(`phase ${pi + 1}/${s.phases.length}: ${phase.epochs} epochs training ${phase.trains === 'heads' ? 'the heads only' : 'the whole network'}${within > 0 || inEpoch > 0 ? ` (from its epoch ${within})` : ''}`);
        lastPhase = pi;
      }
      const vars = phase.trains === 'heads' ? model.headVariables() : model.variables();
      const lr = learningRate(phase.lr, within, phase.epochs);
      const epochStart = performance.now() - epochSeconds * 1000;
      while (inEpoch < s.iterationsPerEpoch) {
        if (signal?.aborted) await interrupt();
        const ts = performance.now();
        if (!next) throw new Error('internal: no batch drawn');
        const batch = batchToTensors(next, patch, params.heads.length);
        let loss: number;
        try {
          const pending = trainStep(model, vars, optimizer, batch, lr, s.clipNorm);
          try {
            next = iteration + 1 < total ? draw(iteration + 1) : null;
          } catch (err) {
            await pending.catch(() => undefined); // the step's own outcome no longer matters
            throw err;
          }
          loss = await pending;
        } finally {
          tf.dispose([batch.image, batch.targets, batch.mask]);
        }
        lossSum += loss;
        iteration++;
        inEpoch++;
        durations.push(performance.now() - ts);
        if (durations.length > RATE_WINDOW) durations.shift();
        const itPerSec = (1000 * durations.length) / durations.reduce((x, y) => x + y, 0);
        opts.onProgress?.({ iteration, total, epoch, loss, lr, itPerSec });
        epochSeconds = (performance.now() - epochStart) / 1000;
        await yieldToEventLoop();
      }
      // Stopped after the epoch's last iteration: resuming runs its validation and end.
      if (signal?.aborted) await interrupt();
      const record: EpochRecord = { epoch, phase: pi, lr, meanLoss: lossSum / s.iterationsPerEpoch, seconds: 0 };
      if (validation) {
        const v = await validate(model, validation);
        track.ema = nextEma(track.ema, v.mean);
        Object.assign(record, { pseudoDice: v.perClass, meanPseudoDice: v.mean, ema: track.ema });
      }
      record.seconds = (performance.now() - epochStart) / 1000;
      history.push(record);
      // The counters move to the next epoch first: a checkpoint written now resumes there.
      epoch++;
      inEpoch = 0;
      lossSum = 0;
      epochSeconds = 0;
      const best = track.ema !== null && (track.bestEma === null || track.ema > track.bestEma);
      if (best) {
        track.bestEma = track.ema;
        track.bestEpoch = record.epoch;
      }
      opts.onEpoch?.(record, best);
      if (best) await save('best');
      const every = s.checkpointEvery ?? 0;
      if (every > 0 && epoch % every === 0 && epoch < totalEpochs) await save('latest');
    }
    if (validation === null && ck) {
      track.bestEpoch = totalEpochs - 1;
      await save('best');
    }
    await save('final');
    return { model, history, init, iterations: iteration, seconds: (performance.now() - t0) / 1000, validation: track };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}
