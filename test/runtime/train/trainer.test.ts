import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nnunetProfile } from '../../../src/graph/transforms.js';
import type { HeadSpec } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { evaluateModel } from '../../../src/runtime/eval/model.js';
import { saveCheckpoint } from '../../../src/runtime/model/checkpoint.js';
import { trainModel, type TrainProgress } from '../../../src/runtime/train/trainer.js';
import { blobDataset, tinyTrainParams } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mt-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const headsAB: HeadSpec[] = [
  { dataset: 'a', name: 'blob', labels: [1] },
  { dataset: 'b', name: 'blob', labels: [1] },
];

describe('trainModel', () => {
  it('end to end: loss decreases and held-out Dice on the blob exceeds 0.5 (deterministic)', async () => {
    const data = [blobDataset('a', 6, [16, 16, 16], 1, 2), blobDataset('b', 4, [16, 16, 16], 2, 1)];
    const params = tinyTrainParams(['a', 'b'], headsAB);
    const progress: TrainProgress[] = [];
    const trained = await trainModel({ params, data, onProgress: (p) => progress.push(p) });
    expect(progress.length).toBe(40);
    expect(progress.map((p) => p.iteration)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(progress.every((p) => p.total === 40 && p.itPerSec > 0)).toBe(true);
    // The memory the screen shows: the process's resident set and the bytes held in tensors.
    expect(progress.every((p) => p.memory.rss > 0 && p.memory.tensors > 0)).toBe(true);
    const first = progress.slice(0, 5).reduce((s, p) => s + p.loss, 0) / 5;
    const last = progress.slice(-5).reduce((s, p) => s + p.loss, 0) / 5;
    expect(last).toBeLessThan(first - 0.3);
    const holdout = data.flatMap((d) => d.cases.filter((c) => d.holdout.includes(c.id)));
    const metrics = await evaluateModel(trained.model, headsAB, holdout, { stepFraction: 0.5, gaussian: true, mirror: false });
    expect(metrics.map((m) => `${m.dataset}/${m.name}`)).toEqual(['a/blob', 'b/blob']);
    for (const m of metrics) expect(m.dice).toBeGreaterThan(0.5);
    expect(Object.keys(metrics[0].perCase).sort()).toEqual(data[0].holdout);

    // Same seed, same result.
    const short = { ...params, schedule: { ...params.schedule, epochs: 1, iterationsPerEpoch: 3, phases: [{ ...params.schedule.phases[0], epochs: 1 }] } };
    const again = await trainModel({ params: short, data });
    const onceMore = await trainModel({ params: short, data });
    expect(again.history[0].meanLoss).toBe(onceMore.history[0].meanLoss);
    trained.model.dispose();
    again.model.dispose();
    onceMore.model.dispose();
  });

  it("trains with nnU-Net's augmentation; the loader's worker count does not change the result", async () => {
    const data = [blobDataset('a', 4, [20, 20, 20], 5), blobDataset('b', 3, [20, 20, 20], 6)];
    const params = tinyTrainParams(['a', 'b'], headsAB, { augmentation: nnunetProfile() });
    params.schedule = { ...params.schedule, epochs: 1, iterationsPerEpoch: 6, phases: [{ trains: 'all', epochs: 1, lr: { kind: 'constant', value: 0.01 } }] };
    const runs = [];
    for (const loaderWorkers of [0, 2]) {
      const logs: string[] = [];
      runs.push(await trainModel({ params, data, loaderWorkers, onLog: (m) => logs.push(m) }));
      expect(logs.join('\n')).toContain(`augmentation 'nnunet_augmentation': rotation, scaling, noise, blur`);
      expect(logs.join('\n')).toMatch(new RegExp(`data loading \\(${loaderWorkers} workers?\\): the steps waited [0-9.]+ s of [0-9.]+ s \\([0-9.]+ %; [0-9.]+ s of it for the first batch\\)`));
    }
    expect(runs[1].history[0].meanLoss).toBe(runs[0].history[0].meanLoss);
    for (const r of runs) r.model.dispose();
  });

  it('does not leak tensors between iterations or after disposing the model', async () => {
    const data = [blobDataset('a', 3, [16, 16, 16], 3)];
    const params = tinyTrainParams(['a'], [headsAB[0]], {
      architecture: { name: 't', kind: 'unet', patch: [8, 8, 8], features: [2, 4], strides: [[1, 1, 1], [2, 2, 2]], convsPerStage: 1 },
    });
    params.schedule = { ...params.schedule, epochs: 2, iterationsPerEpoch: 4, phases: [{ trains: 'all', epochs: 2, lr: { kind: 'constant', value: 0.01 } }] };
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const trained = await trainModel({ params, data, onProgress: () => counts.push(tf.memory().numTensors) });
    expect(new Set(counts.slice(1)).size).toBe(1);
    trained.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fine-tunes: backbone from the checkpoint, fresh heads; a heads phase changes only the heads', async () => {
    const pre = [blobDataset('a', 3, [16, 16, 16], 4)];
    const small = { name: 't', kind: 'unet' as const, patch: [8, 8, 8] as [number, number, number], features: [2, 4], strides: [[1, 1, 1], [2, 2, 2]] as [number, number, number][], convsPerStage: 1 };
    const base = tinyTrainParams(['a'], [headsAB[0]], { architecture: small });
    base.schedule = { ...base.schedule, epochs: 1, iterationsPerEpoch: 2, phases: [{ trains: 'all', epochs: 1, lr: { kind: 'constant', value: 0.01 } }] };
    const src = await trainModel({ params: base, data: pre });
    const ckpt = join(dir, 'pre');
    await saveCheckpoint(src.model, ckpt);
    const srcWeights = src.model.weights();
    src.model.dispose();

    const target = [blobDataset('k', 3, [16, 16, 16], 5)];
    const kHeads: HeadSpec[] = [
      { dataset: 'k', name: 'kidney', labels: [1] },
      { dataset: 'k', name: 'tumour', labels: [2] },
    ];
    const ft = tinyTrainParams(['k'], kHeads, { architecture: small, seed: 9 });
    ft.schedule = { ...ft.schedule, epochs: 1, iterationsPerEpoch: 3, phases: [{ trains: 'heads', epochs: 1, lr: { kind: 'linear', from: 0, to: 0.01 } }] };
    const logs: string[] = [];
    const tuned = await trainModel({ params: ft, data: target, init: { checkpointDir: ckpt }, onLog: (m) => logs.push(m) });
    const w = tuned.model.weights();
    for (const [name, v] of w) {
      if (name.startsWith('head.')) continue;
      expect([name, Array.from(v)]).toEqual([name, Array.from(srcWeights.get(name)!)]);
    }
    expect(w.get('head.weight')!.length).toBe(2 * 2);
    expect(tuned.init?.copied.length).toBe(w.size - 2);
    expect(logs.some((l) => l.includes('initialised'))).toBe(true);
    tuned.model.dispose();
  });

  it('reports what cannot take effect as a warning, apart from the log', async () => {
    const data = [blobDataset('a', 4, [16, 16, 16], 1, 2)];
    const schedule = { ...tinyTrainParams(['a'], headsAB.slice(0, 1)).schedule, epochs: 1, iterationsPerEpoch: 1, phases: [{ trains: 'all' as const, epochs: 1, lr: { kind: 'poly' as const, initial: 0.01, exponent: 0.9 } }] };
    const params = tinyTrainParams(['a'], headsAB.slice(0, 1), { precision: 'mixed', schedule });
    const logs: string[] = [];
    const warnings: string[] = [];
    const trained = await trainModel({ params, data, onLog: (m) => logs.push(m), onWarning: (m) => warnings.push(m) });
    trained.model.dispose();
    expect(warnings).toContain('mixed precision is not available on tfjs; training in fp32');
    expect(logs.some((l) => l.startsWith('mixed precision'))).toBe(false);
  });

  it('a training on every case (fold null) says once that nothing is held out; a fold without validation cases warns', async () => {
    const schedule = {
      ...tinyTrainParams(['a'], headsAB.slice(0, 1)).schedule, epochs: 1, iterationsPerEpoch: 1, validationIterations: 2,
      phases: [{ trains: 'all' as const, epochs: 1, lr: { kind: 'poly' as const, initial: 0.01, exponent: 0.9 } }],
    };
    for (const fold of [null, 0]) {
      const params = { ...tinyTrainParams(['a'], headsAB.slice(0, 1), { schedule }), fold };
      const logs: string[] = [];
      const warnings: string[] = [];
      const data = [blobDataset('a', 2, [16, 16, 16], 3)];
      const trained = await trainModel({ params, data, onLog: (m) => logs.push(m), onWarning: (m) => warnings.push(m) });
      trained.model.dispose();
      expect(trained.history[0].meanPseudoDice).toBeUndefined();
      if (fold === null) {
        expect(warnings).toEqual([]);
        expect(logs).toContain('nothing held out (folds none): no per-epoch pseudo-Dice, and `best` is the final model');
      } else expect(warnings).toEqual(['no validation cases in this fold: no per-epoch pseudo-Dice, and `best` is the final model']);
    }
  });

  it('stops when aborted', async () => {
    const data = [blobDataset('a', 2, [16, 16, 16], 6)];
    const params = tinyTrainParams(['a'], [headsAB[0]]);
    const ctl = new AbortController();
    let seen = 0;
    const p = trainModel({ params, data, signal: ctl.signal, onProgress: () => (++seen === 2 ? ctl.abort() : undefined) });
    await expect(p).rejects.toMatchObject({ name: 'StageInterrupted', message: expect.stringMatching(/interrupted at epoch 0, iteration 2 of 40/) });
    expect(seen).toBe(2);
  });

  it('refuses to train on the wasm backend, whose conv3d gradients are wrong', async () => {
    await initBackend('wasm');
    try {
      await expect(trainModel({ params: tinyTrainParams(['a'], [headsAB[0]]), data: [blobDataset('a', 2, [16, 16, 16], 6)] })).rejects.toThrow(/cannot train/);
    } finally {
      await initBackend('cpu');
    }
  });

  it('explains missing datasets', async () => {
    await expect(trainModel({ params: tinyTrainParams(['a', 'zz'], [headsAB[0]]), data: [blobDataset('a', 2, [16, 16, 16], 6)] })).rejects.toThrow(
      /dataset 'zz', but it was not preprocessed/,
    );
  });
});
