// The trainer with the losses of loss/registry.ts, an optimiser per phase, and a diverging loss.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArchitectureSpec, HeadSpec, ScheduleSpec } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { evaluateModel } from '../../../src/runtime/eval/model.js';
import { scheduleLearningRate } from '../../../src/runtime/train/lr.js';
import { trainModel, TrainingDivergedError, type TrainProgress } from '../../../src/runtime/train/trainer.js';
import { blobCase, blobDataset, tinyTrainParams } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const blob: HeadSpec[] = [{ dataset: 'a', name: 'blob', labels: [1] }];
const small: ArchitectureSpec = { name: 't', kind: 'unet', patch: [8, 8, 8], features: [2, 4], strides: [[1, 1, 1], [2, 2, 2]], convsPerStage: 1 };

describe('trainModel with dice_ce', () => {
  it('softmax form: background + label channels, learns the blob (held-out Dice by argmax)', async () => {
    const data = [blobDataset('a', 6, [16, 16, 16], 11, 2)];
    const params = tinyTrainParams(['a'], blob, { loss: 'dice_ce', lossOptions: { batchDice: true }, output: { activation: 'softmax', labels: [0, 1] } });
    params.schedule = { ...params.schedule, epochs: 3, iterationsPerEpoch: 8, phases: [{ trains: 'all', epochs: 3, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 } }] };
    const logs: string[] = [];
    const progress: TrainProgress[] = [];
    const trained = await trainModel({ params, data, onLog: (m) => logs.push(m), onProgress: (p) => progress.push(p) });
    try {
      expect(logs.join('\n')).toMatch(/2 softmax outputs \(labels 0, 1; background first\)/);
      expect(logs.join('\n')).toMatch(/dice_ce: nnU-Net's softmax cross-entropy \+ soft batch Dice of the 1 foreground labels/);
      expect(trained.model.heads.map((h) => h.name)).toEqual(['background', 'blob']);
      expect(trained.output).toEqual({ layout: { activation: 'softmax', labels: [0, 1] }, classes: blob });
      const first = progress.slice(0, 4).reduce((s, p) => s + p.loss, 0) / 4;
      const last = progress.slice(-4).reduce((s, p) => s + p.loss, 0) / 4;
      expect(last).toBeLessThan(first - 0.2);
      const holdout = data[0].cases.filter((c) => data[0].holdout.includes(c.id));
      const metrics = await evaluateModel(trained.model, blob, holdout, { stepFraction: 0.5, gaussian: true, mirror: false }, undefined, undefined, { output: trained.output.layout });
      expect(metrics.map((m) => m.name)).toEqual(['blob']);
      expect(metrics[0].dice).toBeGreaterThan(0.5);
    } finally {
      trained.model.dispose();
    }
  }, 120_000);

  it('region form (a class is a union of labels): one sigmoid channel per class', async () => {
    const data = [blobDataset('a', 3, [16, 16, 16], 12)];
    const heads: HeadSpec[] = [{ dataset: 'a', name: 'region', labels: [1, 2] }];
    const params = tinyTrainParams(['a'], heads, { architecture: small, loss: 'dice_ce', lossOptions: { batchDice: false }, output: { activation: 'sigmoid' } });
    params.schedule = { ...params.schedule, epochs: 1, iterationsPerEpoch: 2, phases: [{ trains: 'all', epochs: 1, lr: { kind: 'constant', value: 0.01 } }] };
    const logs: string[] = [];
    const trained = await trainModel({ params, data, onLog: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(/1 sigmoid outputs/);
    expect(logs.join('\n')).toMatch(/region-based sigmoid BCE \+ soft per-case Dice/);
    expect(trained.model.heads).toEqual(heads);
    trained.model.dispose();
  });

  it('refuses the multitalent loss on a softmax output', async () => {
    const params = tinyTrainParams(['a'], blob, { architecture: small, output: { activation: 'softmax', labels: [0, 1] } });
    await expect(trainModel({ params, data: [blobDataset('a', 2, [16, 16, 16], 13)] })).rejects.toThrow(/loss 'multitalent' needs one sigmoid output per class/);
  });
});

describe('an optimiser per phase', () => {
  it('runs each phase with its optimiser, fresh when it changes, and sets the schedule law every epoch', async () => {
    const schedule: ScheduleSpec = {
      name: 'ft',
      optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 },
      epochs: 5,
      iterationsPerEpoch: 2,
      clipNorm: 12,
      phases: [
        { trains: 'heads', epochs: 2, lr: { kind: 'linear', from: 0, to: 5e-4 }, optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 3e-5, amsgrad: true } },
        { trains: 'all', epochs: 2, lr: { kind: 'linear', from: 0, to: 0.01 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } },
        { trains: 'all', epochs: 1, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } },
      ],
    };
    const params = tinyTrainParams(['a'], blob, { architecture: small, schedule });
    const logs: string[] = [];
    const progress: TrainProgress[] = [];
    const before = tf.memory().numTensors;
    const trained = await trainModel({ params, data: [blobDataset('a', 2, [16, 16, 16], 14)], onLog: (m) => logs.push(m), onProgress: (p) => progress.push(p) });
    const phaseLogs = logs.filter((l) => l.startsWith('phase '));
    expect(phaseLogs[0]).toMatch(/^phase 1\/3: 2 epochs training the heads only, AdamW \(betas 0.9, 0.999, weight decay 0.00003, AMSGrad\)$/);
    expect(phaseLogs[1]).toMatch(/^phase 2\/3: .*SGD \(momentum 0.99, Nesterov, weight decay 0.00003\), fresh optimiser state$/);
    expect(phaseLogs[2]).toMatch(/optimiser state carried over$/);
    expect(progress).toHaveLength(10);
    for (const p of progress) expect(p.lr).toBe(scheduleLearningRate(schedule, p.epoch));
    expect(progress.map((p) => p.lr)).toEqual([2.5e-4, 2.5e-4, 5e-4, 5e-4, 0.005, 0.005, 0.01, 0.01, 0.01, 0.01]);
    trained.model.dispose();
    expect(tf.memory().numTensors).toBe(before); // every optimiser's state disposed
  });
});

describe('a NaN or infinite loss', () => {
  it('stops training and names the iteration and the cases of the batch', async () => {
    const good = blobDataset('a', 2, [16, 16, 16], 15);
    const bad = blobCase('a_bad', 'a', [16, 16, 16], 16);
    bad.image.fill(Number.NaN);
    const data = [{ ...good, cases: [...good.cases, bad], train: [...good.train, bad.id] }];
    const params = tinyTrainParams(['a'], blob, { architecture: small, batch: 3 });
    params.schedule = { ...params.schedule, epochs: 2, iterationsPerEpoch: 3, phases: [{ trains: 'all', epochs: 2, lr: { kind: 'constant', value: 0.01 } }] };
    const progress: TrainProgress[] = [];
    const err = await trainModel({ params, data, onProgress: (p) => progress.push(p) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const d = err as TrainingDivergedError;
    expect(d.iteration).toBe(progress.length + 1);
    expect(d.loss).toBeNaN();
    expect(d.cases).toHaveLength(3);
    expect(d.cases).toContain('a/a_bad');
    expect(d.message).toMatch(new RegExp(`training diverged at iteration ${d.iteration} \\(epoch 1\\): the loss is NaN\\. The batch held .*a/a_bad`));
    expect(d.message).toMatch(/NaN or extreme values/);
  });
});
