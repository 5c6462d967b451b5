import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { outputChannels } from '../../graph/outputs.js';
import { isDummy2d } from '../../graph/transforms.js';
import type { HeadSpec, OutputLayout, TrainParams } from '../../graph/types.js';
import { trainingUnsupportedReason } from '../backend.js';
import { outputTargetLuts } from '../data/regions.js';
import type { PreprocessedDataset } from '../data/types.js';
import { StageInterrupted } from '../interrupt.js';
import { deepSupervisionWeights } from '../loss/deep-supervision.js';
import { createLoss, lossDefinition, lossSetupOf } from '../loss/registry.js';
import { initFromPretrained, type PretrainedInit } from '../model/checkpoint.js';
import { createNetwork, networkFromWeights, outputCount, type Network } from '../model/registry.js';
import type { BatchArrays } from './batch.js';
import { saveTrainingCheckpoint, type CheckpointKind, type EpochRecord, type LoadedTraining, type TrainingState, type ValidationTrack } from './checkpoints.js';
import { createBatchSource, defaultLoaderWorkers, type BatchSource } from './loader.js';
import { phaseAt, scheduleLearningRate } from './lr.js';
import { describeOptimizer, PhaseOptimizers, type Optimizer, type OptimizerState } from './optimizer.js';
import { CaseSampler, datasetShares } from './sampler.js';
import { batchToTensors, NonFiniteLossError, trainStep } from './step.js';
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
  /** The process's resident set and the bytes TensorFlow.js holds in tensors, after the iteration. */
  memory: { rss: number; tensors: number };
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
  /** What the user should look at (a setting that cannot take effect, no validation); onLog when absent. */
  onWarning?: (message: string) => void;
  /** After every epoch (with validation, when there is any); `best` when it became the best checkpoint. */
  onEpoch?: (record: EpochRecord, best: boolean) => void;
  onCheckpoint?: (kind: CheckpointKind, epoch: number, dir: string) => void;
  /** Aborted: the current iteration finishes, a `latest` checkpoint is written, StageInterrupted is thrown. */
  signal?: AbortSignal;
  /** Batch loader worker threads (default: one per spare core, at most 8; 0 draws batches on this thread). */
  loaderWorkers?: number;
}

export interface TrainedModel {
  model: Network;
  /** How the model's output channels map to the classes (for the checkpoint manifest). */
  output: { layout: OutputLayout; classes: HeadSpec[] };
  history: EpochRecord[];
  /** What fine-tuning copied from the checkpoint (absent for training from scratch and resumed runs). */
  init?: PretrainedInit;
  iterations: number;
  seconds: number;
  validation: ValidationTrack;
  /** The batch loader: its worker threads, and the seconds the steps waited for batches out of the training loop's. */
  loader?: { workers: number; waitedSeconds: number; loopSeconds: number };
}

/**
 * The loss became NaN or infinite: training stopped at `iteration` (1-based, over all phases) of
 * `epoch` (0-based); `cases` are the batch's cases (`dataset/case id`).
 */
export class TrainingDivergedError extends Error {
  constructor(
    readonly experiment: string,
    readonly iteration: number,
    readonly epoch: number,
    readonly loss: number,
    readonly cases: string[],
  ) {
    super(
      `experiment '${experiment}': training diverged at iteration ${iteration} (epoch ${epoch + 1}): the loss is ${loss}. ` +
        `The batch held ${cases.join(', ')}. Check these cases' images for NaN or extreme values ` +
        `(mtc data check), or lower the learning rate or the gradient clip of the schedule.`,
    );
    this.name = 'TrainingDivergedError';
  }
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
  const refused = lossDefinition(params.loss).refuse(lossSetupOf(params));
  if (refused) throw new Error(`experiment '${params.experiment}': loss '${params.loss}' ${refused}`);
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

/** The optimiser's state with variable names as the model's stable parameter names (tfjs names carry a per-model prefix). */
async function stableOptimizerState(model: Network, optimizer: Optimizer): Promise<OptimizerState> {
  const byVar = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const s = await optimizer.exportState();
  const rename = (n: string) => byVar.get(n) ?? n;
  return { ...s, slots: s.slots.map((x) => ({ ...x, variable: rename(x.variable) })), steps: Object.fromEntries(Object.entries(s.steps).map(([k, v]) => [rename(k), v])) };
}

function modelOptimizerState(model: Network, state: OptimizerState): OptimizerState {
  const rename = (n: string) => {
    const v = model.params.get(n);
    if (!v) throw new Error(`the checkpoint holds optimiser state for '${n}', which the network does not have`);
    return v.name;
  };
  return { ...state, slots: state.slots.map((x) => ({ ...x, variable: rename(x.variable) })), steps: Object.fromEntries(Object.entries(state.steps).map(([k, v]) => [rename(k), v])) };
}

/**
 * Trains a U-Net with the output channels of `params.output` (one sigmoid per head, or a softmax
 * over the labels; graph/outputs.ts) on the loss `params.loss` (loss/registry.ts), phase by phase (a
 * `heads` phase updates only the output heads, `all` everything), each phase for its epochs x
 * iterationsPerEpoch iterations with its own optimiser (train/optimizer.ts: PhaseOptimizers) and
 * its learning-rate law set per epoch. Batch k comes from the loader (train/loader.ts), a pure
 * function of (seed, k, data), so a resumed training draws exactly the batches an uninterrupted one
 * would. Every epoch ends with validation on the fold's held-out cases (validation.ts) when the
 * schedule asks for it. A NaN or infinite loss stops training with a TrainingDivergedError naming
 * the iteration and the batch's cases.
 */
export async function trainModel(opts: TrainOptions): Promise<TrainedModel> {
  const { params, signal } = opts;
  const unsupported = trainingUnsupportedReason(tf.getBackend());
  if (unsupported) throw new Error(unsupported);
  validateParams(params);
  const datasets = selectDatasets(params, opts.data);
  const log = opts.onLog ?? (() => undefined);
  const warn = opts.onWarning ?? log;
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
    if (r.iteration > total || (r.kind === 'final' && r.totalEpochs >= totalEpochs)) {
      throw new Error(`${resume.dir}: the checkpoint is at epoch ${r.epoch} of ${r.totalEpochs}; the schedule has ${totalEpochs} epochs, so there is nothing to continue`);
    }
  }

  const setup = lossSetupOf(params);
  const channels = outputChannels(setup.output, params.heads);
  const lossFn = createLoss(params.loss, setup);
  const t0 = performance.now();
  const model = resume ? networkFromWeights(params.architecture, channels, resume.weights) : createNetwork(params.architecture, channels, params.seed);
  const optimizers = new PhaseOptimizers(params.schedule);
  let source: BatchSource | undefined;
  try {
    log(
      `U-Net ${params.architecture.features.join('/')} with ${channels.length} ${setup.output.activation} outputs` +
        (setup.output.activation === 'softmax' ? ` (labels ${setup.output.labels.join(', ')}; background first)` : '') +
        `: ${model.parameterCount()} parameters`,
    );
    log(`loss ${lossDefinition(params.loss).describe(setup)}`);
    let init: PretrainedInit | undefined;
    if (resume) {
      // The saved optimiser state belongs to the optimiser of the phase it was written in.
      const { optimizer } = optimizers.forPhase(resume.state.optimizerPhase ?? phaseAt(s.phases, Math.min(resume.state.epoch, totalEpochs - 1)).phase);
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

    const active = (params.augmentation?.transforms ?? []).filter((t) => t.p > 0).map((t) => t.kind);
    if (params.augmentation && active.length > 0) {
      const inPlane = isDummy2d(params.architecture.patch) ? '; in-plane only (anisotropic patch, nnU-Net\'s dummy 2D)' : '';
      log(`augmentation '${params.augmentation.name}': ${active.join(', ')}${inPlane}`);
    }
    if (outputCount(params.architecture) > 1) {
      const w = deepSupervisionWeights(outputCount(params.architecture));
      log(`deep supervision: ${w.length} outputs, loss weights ${w.map((v) => v.toFixed(3)).join(', ')} (full resolution first)`);
    }
    if (params.precision === 'mixed') warn('mixed precision is not available on tfjs; training in fp32');
    const patch = params.architecture.patch;

    // Validation: the fold's held-out cases of every dataset that has some.
    const valData = datasets.filter((d) => d.holdout.length > 0).map((d) => ({ ...d, train: d.holdout }));
    const valBatches = s.validationIterations ?? 0;
    const validation: ValidationSetup | null =
      valBatches > 0 && valData.length > 0
        ? {
            sampler: new CaseSampler(valData, params.sampling.kind), channels, layout: setup.output, tables: outputTargetLuts(setup.output, channels),
            patch, batch: params.batch, foregroundFraction: params.sampling.foregroundFraction, seed: params.seed, batches: valBatches,
          }
        : null;
    if (valBatches > 0 && validation === null) {
      // `folds none` holds nothing out on purpose; a fold without validation cases is worth a warning
      if (params.fold === null) log('nothing held out (folds none): no per-epoch pseudo-Dice, and `best` is the final model');
      else warn('no validation cases in this fold: no per-epoch pseudo-Dice, and `best` is the final model');
    }

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

    let phaseIndex = phaseAt(s.phases, Math.min(epoch, totalEpochs - 1)).phase;
    let optimizer: Optimizer | null = null;
    const ck = opts.checkpoints;
    const output = { layout: structuredClone(setup.output), classes: params.heads.map((h) => ({ ...h, labels: [...h.labels] })) };
    const save = async (kind: CheckpointKind): Promise<void> => {
      if (!ck) return;
      const dir = `${ck.dir}/${kind}`;
      const current = optimizer ?? optimizers.forPhase(phaseIndex).optimizer;
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
        optimizerPhase: phaseIndex,
        history,
        validation: track,
        rng: { seed: params.seed, batches: 'Prng.derive(seed, "batch", k)', validation: 'Prng.derive(seed, "validation", j)', nextBatch: iteration },
      };
      await saveTrainingCheckpoint(dir, model, await stableOptimizerState(model, current), state, output);
      opts.onCheckpoint?.(kind, epoch, dir);
    };
    const interrupt = async (): Promise<never> => {
      await save('latest');
      throw new StageInterrupted(`interrupted at epoch ${epoch}, iteration ${iteration} of ${total}${ck ? '; the latest checkpoint was written' : ''}`);
    };

    // Batch k comes from the loader's workers (a pure function of the seed, k and the data), prepared
    // while the steps before it run; a resumed training starts the source at its iteration.
    const workers = opts.loaderWorkers ?? defaultLoaderWorkers(availableParallelism());
    source = iteration < total ? createBatchSource({ datasets, params, startIteration: iteration, total, workers }) : undefined;
    const durations: number[] = [];
    let waited = 0;
    let firstWait = 0;
    const startIteration = iteration;
    const tTrain = performance.now();
    let lastPhase = -1;
    while (epoch < totalEpochs) {
      const { phase: pi, epochInPhase: within } = phaseAt(s.phases, epoch);
      const phase = s.phases[pi];
      phaseIndex = pi;
      const current = optimizers.forPhase(pi);
      optimizer = current.optimizer;
      if (pi !== lastPhase) {
        log(
          `phase ${pi + 1}/${s.phases.length}: ${phase.epochs} epochs training ${phase.trains === 'heads' ? 'the heads only' : 'the whole network'}, ` +
            `${describeOptimizer(current.spec)}${pi > 0 && lastPhase >= 0 ? (current.fresh ? ', fresh optimiser state' : ', optimiser state carried over') : ''}` +
            `${within > 0 || inEpoch > 0 ? ` (from its epoch ${within})` : ''}`,
        );
        lastPhase = pi;
      }
      const vars = phase.trains === 'heads' ? model.headVariables() : model.variables();
      const lr = scheduleLearningRate(s, epoch); // phase pi's law at epoch `within` of the phase
      const epochStart = performance.now() - epochSeconds * 1000;
      while (inEpoch < s.iterationsPerEpoch) {
        if (signal?.aborted) await interrupt();
        const ts = performance.now();
        if (!source) throw new Error('internal: no batch source');
        const batchArrays: BatchArrays = await source.next();
        const w = performance.now() - ts;
        if (iteration === startIteration) firstWait = w;
        waited += w;
        const batch = batchToTensors(batchArrays, patch, channels.length);
        let loss: number;
        try {
          try {
            loss = await trainStep(model, vars, optimizer, batch, lr, s.clipNorm, true, lossFn);
          } catch (err) {
            if (err instanceof NonFiniteLossError) {
              throw new TrainingDivergedError(params.experiment, iteration + 1, epoch, err.loss, batchCaseNames(batchArrays, params.batch, channels));
            }
            throw err;
          }
        } finally {
          tf.dispose([batch.image, batch.targets, batch.mask]);
        }
        lossSum += loss;
        iteration++;
        inEpoch++;
        durations.push(performance.now() - ts);
        if (durations.length > RATE_WINDOW) durations.shift();
        const itPerSec = (1000 * durations.length) / durations.reduce((x, y) => x + y, 0);
        opts.onProgress?.({ iteration, total, epoch, loss, lr, itPerSec, memory: { rss: process.memoryUsage.rss(), tensors: tf.memory().numBytes } });
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
    const trainMs = performance.now() - tTrain;
    if (iteration > startIteration) {
      log(
        `data loading (${workers} worker${workers === 1 ? '' : 's'}): the steps waited ${(waited / 1000).toFixed(1)} s of ${(trainMs / 1000).toFixed(1)} s ` +
          `(${((100 * waited) / trainMs).toFixed(1)} %; ${(firstWait / 1000).toFixed(1)} s of it for the first batch)`,
      );
    }
    if (validation === null && ck) {
      track.bestEpoch = totalEpochs - 1;
      await save('best');
    }
    await save('final');
    return {
      model,
      output,
      history,
      init,
      iterations: iteration,
      seconds: (performance.now() - t0) / 1000,
      validation: track,
      loader: { workers, waitedSeconds: waited / 1000, loopSeconds: trainMs / 1000 },
    };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    optimizers.dispose();
    await source?.close();
  }
}

/** `dataset/case` for each case of a batch (the dataset: the one whose channels the case's mask row marks). */
function batchCaseNames(arrays: BatchArrays, batch: number, channels: readonly HeadSpec[]): string[] {
  return arrays.cases.map((id, b) => {
    const k = channels.findIndex((_, c) => arrays.mask[b * channels.length + c] > 0);
    return k >= 0 && arrays.mask.length === batch * channels.length ? `${channels[k].dataset}/${id}` : id;
  });
}
