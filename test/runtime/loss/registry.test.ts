import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { deepSupervisionLoss, downsampleTargets } from '../../../src/runtime/loss/deep-supervision.js';
import { multiTalentLoss } from '../../../src/runtime/loss/multitalent.js';
import { createLoss, lossDefinition, lossSetupOf, registeredLosses, registerLoss } from '../../../src/runtime/loss/registry.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('the loss registry', () => {
  it('holds the two losses of the language, by kind', () => {
    expect(registeredLosses()).toEqual(['multitalent', 'dice_ce']);
    expect(() => lossDefinition('focal')).toThrow(/loss 'focal' is not known to this runtime \(it has: multitalent, dice_ce\)/);
    expect(() => registerLoss(lossDefinition('dice_ce'))).toThrow(/registered twice/);
  });

  it('multitalent is eq. 2 and needs sigmoid outputs', () => {
    const z = tf.randomNormal([2, 2, 2, 2, 3], 0, 1, 'float32', 1) as tf.Tensor5D;
    const g = tf.cast(tf.greater(tf.randomUniform([2, 2, 2, 2, 3], 0, 1, 'float32', 2), 0.5), 'float32') as tf.Tensor5D;
    const m = tf.tensor2d([[1, 1, 0], [0, 0, 1]]);
    const loss = createLoss('multitalent', { output: { activation: 'sigmoid' }, options: { batchDice: false } });
    expect(loss(z, g, m).dataSync()[0]).toBeCloseTo(multiTalentLoss(z, g, m, { batchDice: false }).dataSync()[0], 6);
    expect(() => createLoss('multitalent', { output: { activation: 'softmax', labels: [0, 1, 2] }, options: { batchDice: true } })).toThrow(/needs one sigmoid output per class/);
  });

  it("reads a stage's setup, with the defaults for graphs written before the fields", () => {
    const heads = [{ dataset: 'a', name: 'x', labels: [1] }];
    expect(lossSetupOf({ loss: 'dice_ce', heads })).toEqual({ output: { activation: 'softmax', labels: [0, 1] }, options: { batchDice: true } });
    expect(lossSetupOf({ loss: 'multitalent', heads, lossOptions: { batchDice: false } })).toEqual({ output: { activation: 'sigmoid' }, options: { batchDice: false } });
  });

  it('deep supervision weighs any registered loss over the scales (dice_ce softmax here)', () => {
    const loss = createLoss('dice_ce', { output: { activation: 'softmax', labels: [0, 1, 2] }, options: { batchDice: true } });
    const labels = tf.randomUniform([2, 4, 4, 4], 0, 3, 'int32', 3);
    const g0 = tf.cast(tf.oneHot(tf.reshape(labels, [-1]), 3), 'float32').reshape([2, 4, 4, 4, 3]) as tf.Tensor5D;
    const g1 = downsampleTargets(g0, [2, 2, 2]);
    const z0 = tf.randomNormal([2, 4, 4, 4, 3], 0, 1, 'float32', 4) as tf.Tensor5D;
    const z1 = tf.randomNormal([2, 2, 2, 2, 3], 0, 1, 'float32', 5) as tf.Tensor5D;
    const m = tf.ones([2, 3]) as tf.Tensor2D;
    const want = 0.75 * loss(z0, g0, m).dataSync()[0] + 0.25 * loss(z1, g1, m).dataSync()[0];
    expect(deepSupervisionLoss([z0, z1], [g0, g1], m, [0.75, 0.25], loss).dataSync()[0]).toBeCloseTo(want, 5);
    // Downsampled one-hot targets stay one-hot (nearest neighbour).
    expect(Array.from(tf.sum(g1, 4).dataSync()).every((v) => v === 1)).toBe(true);
  });
});
