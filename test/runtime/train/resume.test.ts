import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadSpec, TrainParams } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import type { UNet } from '../../../src/runtime/model/unet.js';
import { loadTrainingCheckpoint } from '../../../src/runtime/train/checkpoints.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { CaseSampler } from '../../../src/runtime/train/sampler.js';
import { trainModel, type EpochRecord, type TrainOptions } from '../../../src/runtime/train/trainer.js';
import { nextEma, validate } from '../../../src/runtime/train/validation.js';
import { regionTables } from '../../../src/runtime/train/batch.js';
import { blobDataset, tinyTrainParams } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mt-resume-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const heads: HeadSpec[] = [
  { dataset: 'a', name: 'blob', labels: [1] },
  { dataset: 'b', name: 'blob', labels: [1] },
];
const data = () => [blobDataset('a', 5, [16, 16, 16], 1, 2), blobDataset('b', 4, [16, 16, 16], 2, 1)];

function params(epochs: number, optimizer: TrainParams['schedule']['optimizer'] = { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 }): TrainParams {
  const p = tinyTrainParams(['a', 'b'], heads, {
    architecture: { name: 't', kind: 'unet', patch: [8, 8, 8], features: [2, 4], strides: [[1, 1, 1], [2, 2, 2]], convsPerStage: 1 },
  });
  p.schedule = {
    ...p.schedule,
    optimizer,
    epochs,
    iterationsPerEpoch: 3,
    validationIterations: 2,
    checkpointEvery: 1,
    phases: [
      { trains: 'heads', epochs: 1, lr: { kind: 'linear', from: 0, to: 0.01 } },
      { trains: 'all', epochs: epochs - 1, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 } },
    ],
  };
  return p;
}

async function train(opts: Omit<TrainOptions, 'data'>): Promise<{ weights: Map<string, Float32Array>; history: EpochRecord[] }> {
  const t = await trainModel({ ...opts, data: data() });
  const weights = t.model.weights();
  t.model.dispose();
  return { weights, history: t.history };
}

/** Trains until `stopAfter` iterations, interrupted as Ctrl-C would, in checkpoint folder `ck`. */
async function interrupted(p: TrainParams, ck: string, stopAfter: number): Promise<void> {
  const ctl = new AbortController();
  let n = 0;
  await expect(
    trainModel({ params: p, data: data(), checkpoints: { dir: ck, stageKey: 'k', specHash: 'h' }, signal: ctl.signal, onProgress: () => (++n === stopAfter ? ctl.abort() : undefined) }),
  ).rejects.toMatchObject({ name: 'StageInterrupted' });
}

function expectSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, v] of a) expect(Buffer.from(b.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
}

describe('exact resume', () => {
  for (const [label, opt] of [
    ['SGD (Nesterov momentum)', undefined],
    ['AdamW', { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 }],
  ] as const) {
    it(`${label}: interrupted mid-epoch and at an epoch's end, resumed from latest, ends bit-identical`, async () => {
      const p = params(3, opt);
      const ref = await train({ params: p, checkpoints: { dir: join(dir, `ref-${label}`), stageKey: 'k', specHash: 'h' } });
      for (const stopAfter of [4, 6]) {
        const ck = join(dir, `${label}-${stopAfter}`);
        await interrupted(p, ck, stopAfter);
        const latest = await loadTrainingCheckpoint(join(ck, 'latest'));
        expect(latest?.state).toMatchObject({ kind: 'latest', iteration: stopAfter, stageKey: 'k', specHash: 'h', rng: { nextBatch: stopAfter } });
        // After 4 iterations: 1 into epoch 1; after 6: epoch 1's iterations done, its validation not yet.
        expect([latest?.state.epoch, latest?.state.iterationInEpoch]).toEqual([1, stopAfter === 6 ? 3 : 1]);
        const resumed = await train({ params: p, resume: latest!, checkpoints: { dir: ck, stageKey: 'k', specHash: 'h' } });
        expectSameWeights(ref.weights, resumed.weights);
        expect(resumed.history).toEqual(ref.history.map((r) => ({ ...r, seconds: expect.any(Number) })));
      }
    });
  }

  it('writes latest, best and final with the optimiser state, counters and validation averages', async () => {
    const ck = join(dir, 'kinds');
    await train({ params: params(3), checkpoints: { dir: ck, stageKey: 'k', specHash: 'h' } });
    const final = await loadTrainingCheckpoint(join(ck, 'final'));
    expect(final?.state).toMatchObject({ kind: 'final', iteration: 9, epoch: 3, totalEpochs: 3 });
    expect(final?.state.history.map((h) => h.epoch)).toEqual([0, 1, 2]);
    expect(final?.optimizer.slots.length).toBeGreaterThan(0);
    const best = await loadTrainingCheckpoint(join(ck, 'best'));
    expect(best?.state.kind).toBe('best');
    expect(best?.state.validation.bestEpoch).toBe(final?.state.validation.bestEpoch);
    // The last latest checkpoint was written after epoch 2 (resumes at 2); none after the final epoch.
    expect((await loadTrainingCheckpoint(join(ck, 'latest')))?.state.epoch).toBe(2);
    const history = final!.state.history;
    let ema: number | null = null;
    for (const h of history) {
      ema = nextEma(ema, h.meanPseudoDice ?? null);
      expect(h.ema).toBeCloseTo(ema!, 12);
    }
  });

  it('extends a finished training to more epochs from its final checkpoint, recomputing the schedule', async () => {
    const ck = join(dir, 'ext');
    const short = await trainModel({ params: params(3), data: data(), checkpoints: { dir: ck, stageKey: 'k3', specHash: 'h3' } });
    short.model.dispose();
    const final = await loadTrainingCheckpoint(join(ck, 'final'));
    const logs: string[] = [];
    const long = await trainModel({ params: params(5), data: data(), resume: final!, checkpoints: { dir: join(dir, 'ext5'), stageKey: 'k5', specHash: 'h5' }, onLog: (m) => logs.push(m) });
    long.model.dispose();
    expect(logs).toContain('extending the finished training: 3 -> 5 epochs, continuing at epoch 3 with the learning-rate schedule recomputed for 5 epochs');
    expect(long.history.slice(0, 3)).toEqual(short.history);
    expect(long.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3, 4]);
    // poly over the new 4-epoch 'all' phase: epoch 3 is its third epoch.
    expect(long.history[3].lr).toBeCloseTo(0.01 * (1 - 2 / 4) ** 0.9, 12);
    expect(long.iterations).toBe(15);
  });
});

describe('validation pseudo-Dice', () => {
  it("is 2TP / (2TP + FP + FN) per class over every patch, counting only the class's own dataset", async () => {
    const ds = data();
    const setup = {
      sampler: new CaseSampler(ds, 'uniform'), channels: heads, layout: { activation: 'sigmoid' as const }, tables: regionTables(heads), patch: [8, 8, 8] as [number, number, number],
      batch: 2, foregroundFraction: 0.5, seed: 1, batches: 3,
    };
    // A model predicting each case's own label perfectly for every head: its own dataset's class is
    // perfect, the other dataset's class is masked out (not counted as false positives).
    const perfect = {
      apply: (x: tf.Tensor5D) => tf.tidy(() => tf.concat([tf.sub(tf.mul(tf.cast(tf.greater(x, 0.75), 'float32'), 20), 10), tf.sub(tf.mul(tf.cast(tf.greater(x, 0.75), 'float32'), 20), 10)], 4)),
    } as unknown as UNet;
    const good = await validate(perfect, setup);
    expect(good.perClass['a/blob']).toBeGreaterThan(0.9);
    expect(good.perClass['b/blob']).toBeGreaterThan(0.9);
    const never = { apply: (x: tf.Tensor5D) => tf.tidy(() => tf.fill([x.shape[0], 8, 8, 8, 2], -10)) } as unknown as UNet;
    const bad = await validate(never, setup);
    expect(bad).toEqual({ perClass: { 'a/blob': 0, 'b/blob': 0 }, mean: 0 });
    // The same patches every time.
    expect(await validate(perfect, setup)).toEqual(good);
  });

  it("nnU-Net's moving average: the first value, then 0.9 old + 0.1 new; undefined means unchanged", () => {
    expect(nextEma(null, 0.5)).toBe(0.5);
    expect(nextEma(0.5, 1)).toBeCloseTo(0.55, 12);
    expect(nextEma(0.5, null)).toBe(0.5);
  });
});

describe('optimiser state', () => {
  it('exports and imports SGD momentum and AdamW moments exactly', async () => {
    for (const spec of [{ kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 }, { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 }] as const) {
      const v = tf.variable(tf.tensor([1, 2, 3, 4], [2, 2]), true, `opt-${spec.kind}`);
      const a = createOptimizer(spec);
      a.apply([v], [tf.tensor([0.1, 0.2, 0.3, 0.4], [2, 2])], 0.1);
      const state = await a.exportState();
      const b = createOptimizer(spec);
      b.importState(state);
      expect(await b.exportState()).toEqual(state);
      expect(() => createOptimizer(spec.kind === 'sgd' ? { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0 } : { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }).importState(state)).toThrow(/optimiser state/);
      a.dispose();
      b.dispose();
      v.dispose();
    }
  });

  it('leaves no temporary folders next to checkpoints', async () => {
    const ck = join(dir, 'kinds');
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(ck)).sort()).toEqual(['best', 'final', 'latest']);
    expect(existsSync(join(ck, 'final', 'training.json'))).toBe(true);
    expect(JSON.parse(await readFile(join(ck, 'final', 'training.json'), 'utf8')).rng).toEqual({ seed: 1, batches: 'Prng.derive(seed, "batch", k)', validation: 'Prng.derive(seed, "validation", j)', nextBatch: 9 });
  });
});
