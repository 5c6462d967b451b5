import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadSpec, Vec3 } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import type { PreprocessedCase } from '../../../src/runtime/data/types.js';
import { dice } from '../../../src/runtime/eval/dice.js';
import { hd95 } from '../../../src/runtime/eval/hd95.js';
import { evaluateModel } from '../../../src/runtime/eval/model.js';
import { planAccumulation } from '../../../src/runtime/infer/accumulator.js';
import { LevelNet } from '../infer/helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('evaluateModel in the file grid, with HD95 (the run\'s evaluate stage)', () => {
  it('exports the prediction back to the file grid (un-crop, resample) and scores it there', async () => {
    const heads: HeadSpec[] = [{ dataset: 'd', name: 'bright', labels: [1] }];
    // file grid: 6 x 10 x 10 at 2 x 1 x 1 mm; crop box z 1..5, y 2..8, x 2..8; preprocessed at 2 x 2 x 2 mm
    const canonical: Vec3 = [6, 10, 10];
    const ref = new Uint8Array(600);
    for (let z = 2; z < 4; z++) for (let y = 4; y < 6; y++) for (let x = 4; x < 8; x++) ref[(z * 10 + y) * 10 + x] = 1;
    const pre: Vec3 = [4, 3, 3];
    const image = new Float32Array(36).fill(-1);
    // bright voxels of the preprocessed grid: z 1..2, y 1, x 1..2 (file grid z 2..3, y 4..5, x 4..7)
    for (let z = 1; z < 3; z++) for (let x = 1; x < 3; x++) image[(z * 3 + 1) * 3 + x] = 1;
    const c: PreprocessedCase = {
      id: 'c', dataset: 'd', image, label: new Uint8Array(36), shape: pre, spacing: [2, 2, 2], classVoxels: {},
      source: { imagePath: 'c.nii.gz', storedShape: canonical, orientationCode: 'RAS', canonicalShape: canonical, canonicalSpacing: [2, 1, 1], cropStart: [1, 2, 2], cropEnd: [5, 8, 8], separateAxis: null },
    };
    const net = new LevelNet(heads, [0], [4, 4, 4]);
    const [m] = await evaluateModel(net, heads, [c], { stepFraction: 0.5, gaussian: true, mirror: false }, undefined, undefined, {
      metrics: ['dice', 'hd95'],
      reference: async () => ({ label: ref, shape: canonical, spacing: [2, 1, 1] }),
    });
    expect(m.perCase.c).toBeGreaterThan(0.5);
    expect(m.perCaseHd95?.c).toBeGreaterThanOrEqual(0);
    // the same numbers from the exported mask, recomputed here
    const { maskInCanonicalGrid } = await import('../../../src/runtime/infer/export.js');
    const probs = Float32Array.from(image, (v) => 1 / (1 + Math.exp(-40 * v)));
    const mask = maskInCanonicalGrid(probs, { shape: pre, spacing: [2, 2, 2] }, c.source!);
    expect(m.perCase.c).toBeCloseTo(dice(mask, ref)!, 9);
    expect(m.perCaseHd95?.c).toBeCloseTo(hd95(mask, ref, canonical, [2, 1, 1]), 9);
    expect(m.hd95).toBe(m.perCaseHd95?.c);
    // without a reference loader the comparison happens in the preprocessed grid
    const [inGrid] = await evaluateModel(net, heads, [{ ...c, label: Uint8Array.from(image, (v) => (v > 0 ? 1 : 0)) }], { stepFraction: 0.5, gaussian: true, mirror: false });
    expect(inGrid.perCase.c).toBe(1);
    expect(inGrid.hd95).toBeUndefined();
  });
});

describe('the memory plan for the issue\'s case', () => {
  it('a 512x512x300 CT with 47 classes is never held at full float32 beyond the budget', () => {
    const voxels = 512 * 512 * 300;
    const fixed = voxels * 4 * 3; // image, weights, export buffers
    expect(planAccumulation(47, voxels, 64 * 2 ** 30, fixed).precision).toBe('float32');
    const p12 = planAccumulation(47, voxels, 12 * 2 ** 30, fixed);
    expect(p12).toMatchObject({ precision: 'uint16', groups: [Array.from({ length: 47 }, (_, i) => i)] });
    const p4 = planAccumulation(47, voxels, 4 * 2 ** 30, fixed);
    expect(p4.precision).toBe('uint16');
    expect(p4.groups.length).toBeGreaterThan(1);
    expect(p4.accumulatorBytes + p4.fixedBytes).toBeLessThanOrEqual(4 * 2 ** 30);
  });
});
