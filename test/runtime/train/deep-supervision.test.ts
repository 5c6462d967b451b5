import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchitectureSpec, HeadSpec, Vec3 } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { deepSupervisionLoss, deepSupervisionWeights, downsampleTargets } from '../../../src/runtime/loss/deep-supervision.js';
import { multiTalentLoss, multiTalentLossParts } from '../../../src/runtime/loss/multitalent.js';
import { initFromPretrained, loadCheckpoint, saveCheckpoint } from '../../../src/runtime/model/checkpoint.js';
import { outputCount, outputStrides, parameterSpecs, UNet } from '../../../src/runtime/model/unet.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';
import { trainModel, type TrainProgress } from '../../../src/runtime/train/trainer.js';
import { heads, maxAbsDiff } from '../model/helpers.js';
import { blobDataset, tinyTrainParams } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mt-ds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 4 stages, anisotropic strides: outputs at strides [1,1,1], [1,2,2], [2,4,4]. */
function dsArch(deepSupervision = true): ArchitectureSpec {
  return {
    name: 'ds',
    kind: 'unet',
    patch: [4, 8, 8],
    features: [2, 3, 4, 4],
    strides: [
      [1, 1, 1],
      [1, 2, 2],
      [2, 2, 2],
      [1, 2, 2],
    ],
    convsPerStage: 1,
    deepSupervision,
  };
}

function randomBatch(B: number, patch: Vec3, C: number, seed: number) {
  const image = tf.randomNormal([B, ...patch, 1], 0, 1, 'float32', seed) as tf.Tensor5D;
  const targets = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, ...patch, C], 0, 1, 'float32', seed + 1), 0.7), 'float32')) as tf.Tensor5D;
  const m = new Float32Array(B * C);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) m[b * C + c] = (b + c) % 3 === 2 ? 0 : 1;
  const mask = tf.tensor2d(m, [B, C]);
  return { image, targets, mask };
}

describe('deep supervision', () => {
  it('loss weights: 1/2^i, lowest resolution 0, normalised (4 and 6 stages)', () => {
    const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 12));
    // 4 stages -> 3 decoder outputs; 6 stages -> 5.
    expect(outputCount(dsArch())).toBe(3);
    close(deepSupervisionWeights(3), [2 / 3, 1 / 3, 0]);
    const w6 = deepSupervisionWeights(5);
    close(w6, [8 / 15, 4 / 15, 2 / 15, 1 / 15, 0]);
    expect(w6.map((v) => Number(v.toFixed(3)))).toEqual([0.533, 0.267, 0.133, 0.067, 0]);
    expect(w6.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(deepSupervisionWeights(1)).toEqual([1]);
    expect(outputCount(dsArch(false))).toBe(1);
    expect(outputStrides(dsArch())).toEqual([
      [1, 1, 1],
      [1, 2, 2],
      [2, 4, 4],
    ]);
  });

  it('downsamples targets by taking every stride-th voxel (anisotropic strides, odd sizes)', () => {
    const shape = [2, 4, 8, 6, 3] as const;
    const n = shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor5d(Float32Array.from({ length: n }, (_, i) => i), [...shape]);
    const at = (b: number, z: number, y: number, x: number, c: number) => (((b * shape[1] + z) * shape[2] + y) * shape[3] + x) * shape[4] + c;
    for (const s of [
      [1, 2, 2],
      [2, 4, 2],
      [1, 1, 1],
    ] as Vec3[]) {
      const d = downsampleTargets(t, s);
      expect(d.shape).toEqual([2, shape[1] / s[0], shape[2] / s[1], shape[3] / s[2], 3]);
      const v = d.dataSync();
      let i = 0;
      for (let b = 0; b < 2; b++)
        for (let z = 0; z < d.shape[1]; z++)
          for (let y = 0; y < d.shape[2]; y++)
            for (let x = 0; x < d.shape[3]; x++)
              for (let c = 0; c < 3; c++) expect(v[i++]).toBe(at(b, z * s[0], y * s[1], x * s[2], c));
      d.dispose();
    }
    const odd = tf.tensor5d(Float32Array.from({ length: 125 }, (_, i) => i), [1, 5, 5, 5, 1]);
    const d = downsampleTargets(odd, [1, 2, 2]);
    expect(d.shape).toEqual([1, 5, 3, 3, 1]);
    expect(Array.from(d.dataSync()).slice(0, 4)).toEqual([0, 2, 4, 10]);
    tf.dispose([t, odd, d]);
  });

  it('model: ds heads named head.ds{i}.*, applyAll outputs per scale, apply and other weights unchanged', () => {
    const specs = parameterSpecs(dsArch(), 2);
    const plain = parameterSpecs(dsArch(false), 2);
    expect(specs.slice(0, plain.length)).toEqual(plain);
    expect(specs.slice(plain.length).map((s) => [s.name, s.shape])).toEqual([
      ['head.ds1.weight', [1, 1, 1, 3, 2]],
      ['head.ds1.bias', [2]],
      ['head.ds2.weight', [1, 1, 1, 4, 2]],
      ['head.ds2.bias', [2]],
    ]);
    const m = UNet.create(dsArch(), heads(2), 7);
    const p = UNet.create(dsArch(false), heads(2), 7);
    for (const [k, v] of p.weights()) expect(maxAbsDiff(v, m.weights().get(k)!)).toBe(0);
    expect(m.headVariables().length).toBe(6);
    const x = tf.randomNormal([2, 4, 8, 8, 1], 0, 1, 'float32', 1) as tf.Tensor5D;
    const all = m.applyAll(x);
    expect(all.map((t) => t.shape)).toEqual([
      [2, 4, 8, 8, 2],
      [2, 4, 4, 4, 2],
      [2, 2, 2, 2, 2],
    ]);
    expect(maxAbsDiff(all[0], m.apply(x))).toBe(0);
    expect(maxAbsDiff(all[0], p.apply(x))).toBe(0);
    expect(p.applyAll(x).length).toBe(1);
    m.dispose();
    p.dispose();
  });

  it('the multi-scale loss is the hand-weighted sum of per-scale MultiTalent losses', async () => {
    const m = UNet.create(dsArch(), heads(3), 3);
    const { image, targets, mask } = randomBatch(2, [4, 8, 8], 3, 11);
    const logits = m.applyAll(image);
    const tgs = outputStrides(dsArch()).map((s) => downsampleTargets(targets, s));
    const w = deepSupervisionWeights(3);
    const got = deepSupervisionLoss(logits, tgs, mask, w).dataSync()[0];
    const per = logits.map((l, k) => multiTalentLossParts(l, tgs[k], mask).loss.dataSync()[0]);
    expect(got).toBeCloseTo(w[0] * per[0] + w[1] * per[1], 5);
    expect(got).toBeCloseTo((2 / 3) * per[0] + (1 / 3) * per[1], 5);
    expect(got).not.toBeCloseTo(per[0], 3);

    // trainStep computes exactly this loss (before its update); the zero-weight head stays untouched.
    const opt = createOptimizer({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
    const before = m.weights();
    const stepLoss = await trainStep(m, m.variables(), opt, { image, targets, mask }, 0.01, 12);
    expect(stepLoss).toBeCloseTo(got, 5);
    const after = m.weights();
    expect(maxAbsDiff(before.get('head.ds2.weight')!, after.get('head.ds2.weight')!)).toBe(0);
    expect(maxAbsDiff(before.get('head.ds1.weight')!, after.get('head.ds1.weight')!)).toBeGreaterThan(0);
    expect(maxAbsDiff(before.get('head.weight')!, after.get('head.weight')!)).toBeGreaterThan(0);
    // Full-resolution-only loss differs from the deep-supervision one.
    expect(multiTalentLoss(logits[0], targets, mask).dataSync()[0]).not.toBeCloseTo(got, 3);
    opt.dispose();
    tf.dispose([image, targets, mask, ...logits, ...tgs]);
    m.dispose();
  });

  it('a tiny training run with deep supervision decreases the loss and leaks no tensors', async () => {
    const headsA: HeadSpec[] = [{ dataset: 'a', name: 'blob', labels: [1] }];
    const data = [blobDataset('a', 4, [16, 16, 16], 1)];
    const params = tinyTrainParams(['a'], headsA, {
      architecture: {
        name: 'tiny', kind: 'unet', patch: [16, 16, 16], features: [4, 8, 8, 8],
        strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2], [1, 2, 2]], convsPerStage: 1, deepSupervision: true,
      },
    });
    params.schedule = { ...params.schedule, epochs: 2, iterationsPerEpoch: 10, phases: [{ trains: 'all', epochs: 2, lr: { kind: 'constant', value: 0.01 } }] };
    const before = tf.memory().numTensors;
    const progress: TrainProgress[] = [];
    const counts: number[] = [];
    const logs: string[] = [];
    const trained = await trainModel({
      params,
      data,
      onLog: (l) => logs.push(l),
      onProgress: (p) => {
        progress.push(p);
        counts.push(tf.memory().numTensors);
      },
    });
    expect(logs.some((l) => l.includes('deep supervision: 3 outputs, loss weights 0.667, 0.333, 0.000'))).toBe(true);
    const first = progress.slice(0, 5).reduce((s, p) => s + p.loss, 0) / 5;
    const last = progress.slice(-5).reduce((s, p) => s + p.loss, 0) / 5;
    expect(last).toBeLessThan(first - 0.5);
    expect(new Set(counts.slice(1)).size).toBe(1);
    trained.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checkpoints round-trip the ds heads; fine-tuning keeps them fresh; heads phases train them', async () => {
    const src = UNet.create(dsArch(), heads(2, 'src'), 1);
    const ckpt = join(dir, 'ds');
    await saveCheckpoint(src, ckpt);
    const loaded = await loadCheckpoint(ckpt);
    expect(loaded.architecture.deepSupervision).toBe(true);
    const w0 = src.weights();
    const w1 = loaded.weights();
    expect([...w1.keys()]).toEqual([...w0.keys()]);
    expect(w1.has('head.ds1.weight')).toBe(true);
    for (const [k, v] of w0) expect(maxAbsDiff(v, w1.get(k)!)).toBe(0);
    const x = tf.randomNormal([1, 4, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor5D;
    const a = src.applyAll(x);
    const b = loaded.applyAll(x);
    a.forEach((t, k) => expect(maxAbsDiff(t, b[k])).toBe(0));

    const dst = UNet.create(dsArch(), heads(2, 'dst'), 2);
    const fresh = dst.weights();
    const res = await initFromPretrained(dst, ckpt);
    expect(res.copied.some((n) => n.startsWith('head.'))).toBe(false);
    expect(res.skipped.map((s) => s.name).sort()).toEqual(['head.bias', 'head.ds1.bias', 'head.ds1.weight', 'head.ds2.bias', 'head.ds2.weight', 'head.weight']);
    expect(res.skipped.every((s) => s.reason.startsWith('output head'))).toBe(true);
    const wd = dst.weights();
    for (const name of ['head.ds1.weight', 'head.ds2.weight', 'head.weight']) expect(maxAbsDiff(wd.get(name)!, fresh.get(name)!)).toBe(0);
    for (const name of res.copied) expect(maxAbsDiff(wd.get(name)!, w0.get(name)!)).toBe(0);

    // Fine-tuning a non-deep-supervision model from a deep-supervision checkpoint: the ds heads are unused.
    const plain = UNet.create(dsArch(false), heads(1), 4);
    const res2 = await initFromPretrained(plain, ckpt);
    expect(res2.unused.sort()).toEqual(['head.ds1.bias', 'head.ds1.weight', 'head.ds2.bias', 'head.ds2.weight']);

    // A heads-only step updates head.weight and head.ds1, nothing in the backbone.
    const { image, targets, mask } = randomBatch(1, [4, 8, 8], 2, 5);
    const opt = createOptimizer({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
    await trainStep(dst, dst.headVariables(), opt, { image, targets, mask: tf.onesLike(mask) as tf.Tensor2D }, 0.01, 12);
    const wa = dst.weights();
    for (const [name, v] of wa) {
      const changed = maxAbsDiff(v, wd.get(name)!) > 0;
      if (name === 'head.weight' || name === 'head.ds1.weight') expect(changed).toBe(true);
      if (!name.startsWith('head.') || name.startsWith('head.ds2.')) expect([name, changed]).toEqual([name, false]);
    }
    opt.dispose();
    tf.dispose([x, ...a, ...b, image, targets, mask]);
    src.dispose();
    loaded.dispose();
    dst.dispose();
    plain.dispose();
  });
});
