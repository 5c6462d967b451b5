import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadSpec } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { regionMask } from '../../../src/runtime/data/regions.js';
import { dice } from '../../../src/runtime/eval/dice.js';
import { meanOf } from '../../../src/runtime/eval/summary.js';
import { evaluateModel } from '../../../src/runtime/eval/model.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { tinyArch } from '../model/helpers.js';
import { blobCase } from '../train/helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Dice', () => {
  it('is 2TP / (2TP + FP + FN), null when both masks are empty', () => {
    // TP 2, FP 1, FN 1 -> 4 / 6
    expect(dice(Uint8Array.from([1, 1, 1, 0, 0]), Uint8Array.from([1, 1, 0, 1, 0]))).toBeCloseTo(4 / 6, 12);
    expect(dice(Uint8Array.from([0, 0]), Uint8Array.from([0, 0]))).toBeNull();
    expect(dice(Uint8Array.from([1, 0]), Uint8Array.from([0, 0]))).toBe(0);
    expect(dice(Uint8Array.from([0, 0]), Uint8Array.from([0, 1]))).toBe(0);
  });
  it('class means ignore undefined cases', () => {
    expect(meanOf([0.5, null, 1])).toBe(0.75);
    expect(meanOf([null, null])).toBeNull();
  });
  it('region masks take the union of label values', () => {
    expect(Array.from(regionMask(Uint8Array.from([0, 1, 2, 3]), [1, 2]))).toEqual([0, 1, 1, 0]);
  });
});

describe('evaluateModel', () => {
  it('evaluates each case only on its own dataset heads, against region references', async () => {
    const heads: HeadSpec[] = [
      { dataset: 'k', name: 'kidney', labels: [1, 2] },
      { dataset: 'k', name: 'tumour', labels: [2] },
      { dataset: 'l', name: 'liver', labels: [1] },
    ];
    const m = UNet.create(tinyArch({ patch: [8, 8, 8] }), heads, 1);
    // Every head predicts p = sigmoid(3) > 0.5 everywhere: Dice = 2|R| / (N + |R|) per case.
    for (const [name, v] of m.params) v.assign(tf.fill(v.shape, name === 'head.bias' ? 3 : 0));
    const k0 = blobCase('k0', 'k', [8, 8, 8], 1, { radius: 2, value: 2 });
    k0.label[0] = 1;
    const k1 = blobCase('k1', 'k', [8, 8, 8], 2, { radius: 2, value: 1 }); // no tumour
    const l0 = blobCase('l0', 'l', [8, 8, 8], 3, { radius: 2, value: 1 });
    const progress: [number, number][] = [];
    const metrics = await evaluateModel(m, [heads[0], heads[1]], [k0, k1, l0], { stepFraction: 0.5, gaussian: true, mirror: false }, (d, t) => progress.push([d, t]));
    const count = (l: Uint8Array, vals: number[]) => l.filter((v) => vals.includes(v)).length;
    const expectDice = (r: number) => (2 * r) / (512 + r);
    expect(metrics.map((x) => x.name)).toEqual(['kidney', 'tumour']);
    expect(metrics[0].perCase.k0).toBeCloseTo(expectDice(count(k0.label, [1, 2])), 6);
    expect(metrics[0].perCase.k1).toBeCloseTo(expectDice(count(k1.label, [1, 2])), 6);
    expect(metrics[1].perCase.k0).toBeCloseTo(expectDice(count(k0.label, [2])), 6);
    expect(metrics[1].perCase.k1).toBe(0); // predicted everywhere, reference empty
    expect(metrics[0].perCase).not.toHaveProperty('l0');
    expect(metrics[0].dice).toBeCloseTo((metrics[0].perCase.k0! + metrics[0].perCase.k1!) / 2, 10);
    expect(progress.at(-1)).toEqual([3, 3]);
    await expect(evaluateModel(m, [{ dataset: 'x', name: 'y', labels: [1] }], [k0], { stepFraction: 0.5, gaussian: true, mirror: false })).rejects.toThrow(/no head 'x\/y'/);
    m.dispose();
  });
});
