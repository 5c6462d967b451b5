import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { multiTalentLoss, multiTalentLossParts } from '../../../src/runtime/loss/multitalent.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/**
 * Batch of 3 cases, 2 voxels each (spatial [1, 1, 2]), 3 classes:
 *   class 0 belongs to dataset A, class 1 to dataset B, class 2 to dataset D.
 *   case 0 and case 1 come from A, case 2 from B; no case comes from D.
 * So case 2's dataset lacks class 0, cases 0/1 lack class 1, and class 2 is annotated by no case.
 *
 * Logits are 0 (p = 1/2) or ln 3 (p = 3/4); masked entries hold arbitrary values that must not matter.
 */
const L3 = Math.log(3);
// logits[b][voxel][class]
const logitsArr = [
  [[0, 2.0, -1.5], [L3, -0.7, 3.0]], // case 0 (A)
  [[L3, 1.1, 0.4], [0, -2.2, -0.3]], // case 1 (A)
  [[-0.9, 0, 1.7], [2.5, 0, -1.0]], // case 2 (B)
];
const targetsArr = [
  [[1, 1, 0], [1, 0, 1]],
  [[0, 1, 1], [1, 1, 0]],
  [[1, 1, 1], [0, 0, 1]],
];
const maskArr = [
  [1, 0, 0],
  [1, 0, 0],
  [0, 1, 0],
];

function tensors(logits = logitsArr.flat(2)) {
  return {
    z: tf.tensor5d(logits, [3, 1, 1, 2, 3]),
    g: tf.tensor5d(targetsArr.flat(2), [3, 1, 1, 2, 3]),
    m: tf.tensor2d(maskArr.flat(), [3, 3]),
  };
}

describe('MultiTalent loss (paper eq. 2)', () => {
  it('matches the hand computation', () => {
    const { z, g, m } = tensors();
    const parts = multiTalentLossParts(z, g, m);
    // BCE per voxel: p = 1/2 -> ln 2 for either target; p = 3/4 -> -ln(3/4) if g = 1, -ln(1/4) = ln 4 if g = 0.
    // Class 0, case 0: voxels (p 1/2, g 1), (p 3/4, g 1) -> mean (ln2 - ln 0.75) / 2
    // Class 0, case 1: voxels (p 3/4, g 0), (p 1/2, g 1) -> mean (ln4 + ln2) / 2
    const bce0 = (Math.log(2) - Math.log(0.75)) / 2 + (Math.log(4) + Math.log(2)) / 2;
    // Batch Dice class 0 over cases 0 and 1: sum p*g = 0.5 + 0.75 + 0 + 0.5 = 1.75;
    // sum p = 0.5 + 0.75 + 0.75 + 0.5 = 2.5; sum g = 1 + 1 + 0 + 1 = 3 -> Dice = 3.5 / 5.5 = 7/11.
    const dice0 = 7 / 11;
    // Class 1, case 2 only: both voxels p 1/2 -> BCE ln 2; sum p*g = 0.5, sum p = 1, sum g = 1 -> Dice 0.5.
    const bce1 = Math.log(2);
    const dice1 = 0.5;
    const expected = bce0 - dice0 + (bce1 - dice1);
    expect(parts.loss.dataSync()[0]).toBeCloseTo(expected, 5);
    const bce = parts.bce.dataSync();
    const dice = parts.dice.dataSync();
    expect(bce[0]).toBeCloseTo(bce0, 5);
    expect(dice[0]).toBeCloseTo(dice0, 5);
    expect(bce[1]).toBeCloseTo(bce1, 5);
    expect(dice[1]).toBeCloseTo(dice1, 5);
    // Class 2 is annotated by no case: exactly 0.
    expect(bce[2]).toBe(0);
    expect(dice[2]).toBe(0);
    expect(Array.from(parts.annotated.dataSync())).toEqual([1, 1, 0]);
  });

  it("per-case Dice (the authors' code on one GPU): a Dice per annotated (case, class), summed", () => {
    const { z, g, m } = tensors();
    const bce0 = (Math.log(2) - Math.log(0.75)) / 2 + (Math.log(4) + Math.log(2)) / 2;
    const bce1 = Math.log(2);
    // Class 0, case 0: sum p g = 0.5 + 0.75, sum p = 1.25, sum g = 2 -> 2.5 / 3.25 = 10/13.
    // Class 0, case 1: p (0.75, 0.5), g (0, 1): sum p g = 0.5, sum p = 1.25, sum g = 1 -> 1 / 2.25 = 4/9.
    // Class 1, case 2: p (0.5, 0.5), g (1, 0) -> 1 / 2.
    const expected = bce0 + bce1 - (10 / 13 + 4 / 9 + 0.5);
    const parts = multiTalentLossParts(z, g, m, { batchDice: false });
    expect(parts.loss.dataSync()[0]).toBeCloseTo(expected, 5);
    expect(parts.dice.dataSync()[0]).toBeCloseTo(10 / 13 + 4 / 9, 5);
    expect(parts.dice.dataSync()[2]).toBe(0);
    // The fused op (cpu default) agrees, and differs from the batch Dice.
    expect(multiTalentLoss(z, g, m, { batchDice: false }).dataSync()[0]).toBeCloseTo(expected, 5);
    expect(Math.abs(multiTalentLoss(z, g, m).dataSync()[0] - expected)).toBeGreaterThan(0.1);
  });

  it('is independent of the logits where the mask is 0', () => {
    const a = tensors();
    const changed = logitsArr.map((c, b) => c.map((v) => v.map((x, k) => (maskArr[b][k] ? x : x * -3 + 1)))).flat(2);
    const b = tensors(changed);
    expect(multiTalentLoss(b.z, b.g, b.m).dataSync()[0]).toBeCloseTo(multiTalentLoss(a.z, a.g, a.m).dataSync()[0], 6);
  });

  it('gives exactly zero gradient to unannotated classes and masked entries, and matches finite differences', () => {
    const { z, g, m } = tensors();
    const grad = tf.grad((x: tf.Tensor) => multiTalentLoss(x as tf.Tensor5D, g, m))(z).arraySync() as number[][][][][];
    const flat = logitsArr.flat(2);
    const h = 1e-2;
    for (let b = 0; b < 3; b++)
      for (let v = 0; v < 2; v++)
        for (let c = 0; c < 3; c++) {
          const analytic = grad[b][0][0][v][c];
          if (maskArr[b][c] === 0) {
            expect(analytic).toBe(0);
            continue;
          }
          const i = (b * 2 + v) * 3 + c;
          const plus = [...flat];
          const minus = [...flat];
          plus[i] += h;
          minus[i] -= h;
          const lp = multiTalentLoss(tensors(plus).z, g, m).dataSync()[0];
          const lm = multiTalentLoss(tensors(minus).z, g, m).dataSync()[0];
          const numeric = (lp - lm) / (2 * h);
          expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3);
          expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
        }
  });

  it('does not divide by zero when an annotated class has empty target and ~0 prediction', () => {
    const z = tf.fill([1, 1, 1, 2, 1], -30) as tf.Tensor5D;
    const g = tf.zeros([1, 1, 1, 2, 1]) as tf.Tensor5D;
    const m = tf.ones([1, 1]) as tf.Tensor2D;
    const parts = multiTalentLossParts(z, g, m);
    expect(Number.isFinite(parts.loss.dataSync()[0])).toBe(true);
    expect(parts.dice.dataSync()[0]).toBeCloseTo(0, 6);
    const grad = tf.grad((x: tf.Tensor) => multiTalentLoss(x as tf.Tensor5D, g, m))(z);
    expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('rejects mismatched shapes', () => {
    const { z, g } = tensors();
    expect(() => multiTalentLoss(z, g, tf.ones([3, 2]) as tf.Tensor2D)).toThrow(/mask \[3, 2\] must be \[3, 3\]/);
  });
});
