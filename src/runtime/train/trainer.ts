import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { outputChannels } from '../../graph/outputs.js';
import { isDummy2d } from '../../graph/transforms.js';
import type { HeadSpec, OutputLayout, TrainParams } from '../../graph/types.js';
import { trainingUnsupportedReason } from '../backend.js';
import type { PreprocessedDataset } from '../data/types.js';
import { deepSupervisionWeights } from '../loss/deep-supervision.js';
import { createLoss, lossDefinition, lossSetupOf } from '../loss/registry.js';
import { initFromPretrained, type PretrainedInit } from '../model/checkpoint.js';
import { outputCount, UNet } from '../model/unet.js';
import type { BatchArrays } from './batch.js';
import { createBatchSource, defaultLoaderWorkers, type BatchSource } from './loader.js';
import { scheduleLearningRate } from './lr.js';
import { describeOptimizer, PhaseOptimizers } from './optimizer.js';
import { datasetShares } from './sampler.js';
import { batchToTensors, NonFiniteLossError, trainStep } from './step.js';

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
  /** Preprocessed datasets; those named in params.datasets are used (their `train` ids only). */
  data: PreprocessedDataset[];
  /** Fine-tuning: copy the backbone from this checkpoint; heads start fresh. */
  init?: { checkpointDir: string };
  onProgress?: (p: TrainProgress) => void;
  onLog?: (message: string) => void;
  signal?: AbortSignal;
  /** Batch loader worker threads (default: one per spare core, at most 8; 0 draws batches on this thread). */
  loaderWorkers?: number;
}

export interface EpochRecord {
  epoch: number;
  phase: number;
  lr: number;
  meanLoss: number;
}

export interface TrainedModel {
  model: UNet;
  /** How the model's output channels map to the classes (for the checkpoint manifest). */
  output: { layout: OutputLayout; classes: HeadSpec[] };
  history: EpochRecord[];
  /** What fine-tuning copied from the checkpoint (absent for training from scratch). */
  init?: PretrainedInit;
  iterations: number;
  seconds: number;
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

/**
 * Trains a U-Net with the output channels of `params.output` (one sigmoid per head, or a softmax
 * over the labels; graph/outputs.ts) on the loss `params.loss` (loss/registry.ts), phase by phase (a
 * `heads` phase updates only the output heads, `all` everything), each phase for its epochs x
 * iterationsPerEpoch iterations with its own optimiser (train/optimizer.ts: PhaseOptimizers) and
 * its learning-rate law set per epoch. A NaN or infinite loss stops training with a
 * TrainingDivergedError naming the iteration and the batch's cases.
 */
export async function trainModel(opts: TrainOptions): Promise<TrainedModel> {
  const { params, signal } = opts;
  const unsupported = trainingUnsupportedReason(tf.getBackend());
  if (unsupported) throw new Error(unsupported);
  validateParams(params);
  const datasets = selectDatasets(params, opts.data);
  const log = opts.onLog ?? (() => undefined);
  const trainCounts = Object.fromEntries(datasets.map((d) => [d.name, d.train.length]));
  const shares = datasetShares(params.sampling.kind, trainCounts);
  log(
    `sampling ${params.sampling.kind}: ` +
      Object.entries(shares)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}% (${trainCounts[k]} cases)`)
        .join(', '),
  );

  const setup = lossSetupOf(params);
  const channels = outputChannels(setup.output, params.heads);
  const lossFn = createLoss(params.loss, setup);
  const t0 = performance.now();
  const model = UNet.create(params.architecture, channels, params.seed);
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
    if (opts.init) {
      init = await initFromPretrained(model, opts.init.checkpointDir);
      const backboneSkipped = init.skipped.filter((s) => !s.reason.startsWith('output head'));
      if (init.copied.length === 0) {
        throw new Error(`fine-tuning copied no weights from ${opts.init.checkpointDir}: the architectures do not match`);
      }
      log(
        `initialised ${init.copied.length} backbone tensors from ${opts.init.checkpointDir}` +
          (backboneSkipped.length > 0 ? `; ${backboneSkipped.length} kept fresh: ${backboneSkipped.map((s) => `${s.name} (${s.reason})`).join(', ')}` : ''),
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
    if (params.precision === 'mixed') log('mixed precision is not available on tfjs; training in fp32');
    const patch = params.architecture.patch;
    const s = params.schedule;
    const total = s.phases.reduce((a, p) => a + p.epochs, 0) * s.iterationsPerEpoch;
    const history: EpochRecord[] = [];
    const durations: number[] = [];
    let iteration = 0;
    let epoch = 0;
    // Batch k comes from the loader's workers (a pure function of the seed, k and the data), prepared
    // while the steps before it run.
    const workers = opts.loaderWorkers ?? defaultLoaderWorkers(availableParallelism());
    source = createBatchSource({ datasets, params, startIteration: 0, total, workers });
    let waited = 0;
    let firstWait = 0;
    const tTrain = performance.now();
    for (let pi = 0; pi < s.phases.length; pi++) {
      const phase = s.phases[pi];
      const vars = phase.trains === 'heads' ? model.headVariables() : model.variables();
      const { optimizer, fresh, spec } = optimizers.forPhase(pi);
      log(
        `phase ${pi + 1}/${s.phases.length}: ${phase.epochs} epochs training ${phase.trains === 'heads' ? 'the heads only' : 'the whole network'}, ` +
          `${describeOptimizer(spec)}${pi > 0 ? (fresh ? ', fresh optimiser state' : ', optimiser state carried over') : ''}`,
      );
      for (let e = 0; e < phase.epochs; e++, epoch++) {
        const lr = scheduleLearningRate(s, epoch); // phase pi's law at epoch e of the phase
        let lossSum = 0;
        for (let it = 0; it < s.iterationsPerEpoch; it++) {
          signal?.throwIfAborted();
          const ts = performance.now();
          const current: BatchArrays = await source.next();
          const w = performance.now() - ts;
          if (iteration === 0) firstWait = w;
          waited += w;
          const batch = batchToTensors(current, patch, channels.length);
          let loss: number;
          try {
            try {
              loss = await trainStep(model, vars, optimizer, batch, lr, s.clipNorm, true, lossFn);
            } catch (err) {
              if (err instanceof NonFiniteLossError) {
                throw new TrainingDivergedError(params.experiment, iteration + 1, epoch, err.loss, batchCaseNames(current, params.batch, channels));
              }
              throw err;
            }
          } finally {
            tf.dispose([batch.image, batch.targets, batch.mask]);
          }
          lossSum += loss;
          iteration++;
          durations.push(performance.now() - ts);
          if (durations.length > RATE_WINDOW) durations.shift();
          const itPerSec = (1000 * durations.length) / durations.reduce((a, b) => a + b, 0);
          opts.onProgress?.({ iteration, total, epoch, loss, lr, itPerSec });
          await yieldToEventLoop();
        }
        history.push({ epoch, phase: pi, lr, meanLoss: lossSum / s.iterationsPerEpoch });
      }
    }
    const trainMs = performance.now() - tTrain;
    if (iteration > 0) {
      log(
        `data loading (${workers} worker${workers === 1 ? '' : 's'}): the steps waited ${(waited / 1000).toFixed(1)} s of ${(trainMs / 1000).toFixed(1)} s ` +
          `(${((100 * waited) / trainMs).toFixed(1)} %; ${(firstWait / 1000).toFixed(1)} s of it for the first batch)`,
      );
    }
    signal?.throwIfAborted();
    return {
      model,
      output: { layout: structuredClone(setup.output), classes: params.heads.map((h) => ({ ...h, labels: [...h.labels] })) },
      history,
      init,
      iterations: iteration,
      seconds: (performance.now() - t0) / 1000,
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
