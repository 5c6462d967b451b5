import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveProtocol, plansProblems, readPlans, statisticsFor } from '../../../src/runtime/infer/plans.js';
import { ABDOMEN, STATS, writeModelDir } from './helpers.js';

describe('label-map protocols (regions_class_order)', () => {
  it('writes supersets before their subsets, each with the label no smaller class covers', () => {
    // MSD Liver: liver {1, 2} (tumour included), tumour {2}, declared tumour first
    expect(deriveProtocol([{ name: 'tumour', labels: [2] }, { name: 'liver', labels: [1, 2] }]).order).toEqual([
      { class: 'liver', value: 1 },
      { class: 'tumour', value: 2 },
    ]);
    // disjoint classes keep their declared order and values
    expect(deriveProtocol([{ name: 'spleen', labels: [2] }, { name: 'liver', labels: [1] }, { name: 'aorta', labels: [3] }]).order.map((e) => [e.class, e.value])).toEqual([
      ['spleen', 2],
      ['liver', 1],
      ['aorta', 3],
    ]);
    // nested three deep: kidney {1,2,3} > tumour+cyst {2,3} > cyst {3}
    expect(deriveProtocol([{ name: 'cyst', labels: [3] }, { name: 'kidney', labels: [1, 2, 3] }, { name: 'lesion', labels: [2, 3] }]).order).toEqual([
      { class: 'kidney', value: 1 },
      { class: 'lesion', value: 2 },
      { class: 'cyst', value: 3 },
    ]);
  });
});

describe('plans.json', () => {
  it('records spacing, statistics, classes with tags, protocols and versions, and reads back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-plans-'));
    await writeModelDir(dir, { spacing: [1.5, 1, 1] });
    const p = await readPlans(dir);
    expect(p.preprocessing).toMatchObject({ crop: 'nonzero', spacing: [1.5, 1, 1], imageInterpolation: 3, normalization: { kind: 'ct', statistics: { abdomen: STATS } } });
    expect(p.heads.map((h) => [h.name, h.labels, h.tags])).toEqual([
      ['organ', [1, 2], []],
      ['lesion', [2], ['cancer']],
    ]);
    expect(p.protocols.abdomen.labels).toEqual(ABDOMEN.labels);
    expect(p.versions.mtc).toMatch(/^\d+\.\d+\.\d+/);
    expect(p.axisOrder).toBe('zyx');
    expect(plansProblems(p)).toEqual([]);
    expect(plansProblems({ ...p, preprocessing: { ...p.preprocessing, spacing: [1, 1] } })).toEqual(['preprocessing.spacing must be three positive numbers [z, y, x]']);
  });

  it('picks the CT statistics of the protocol dataset when datasets were normalised apart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-plans-'));
    await writeModelDir(dir);
    const p = await readPlans(dir);
    expect(statisticsFor(p, null).stats).toEqual(STATS);
    const b = { ...STATS, mean: 7 };
    p.preprocessing.normalization.statistics = { a: STATS, b };
    expect(statisticsFor(p, 'b')).toEqual({ stats: b, from: 'b' });
    expect(() => statisticsFor(p, null)).toThrow(/normalises each of its datasets \(a, b\) with its own CT statistics.*--protocol DATASET/);
  });
});

describe('test-time mirroring follows the training augmentation (nnU-Net)', () => {
  it('mirrors the axes training mirrored, none when it did not', async () => {
    const { trainingMirrorAxes } = await import('../../../src/runtime/infer/plans.js');
    expect(trainingMirrorAxes({ augmentation: undefined })).toEqual([0, 1, 2]);
    expect(trainingMirrorAxes({ augmentation: { name: 'none', transforms: [] } })).toEqual([]);
    expect(trainingMirrorAxes({ augmentation: { name: 'm', transforms: [{ kind: 'mirror', p: 0.5, axes: [2, 1] }] } })).toEqual([1, 2]);
    expect(trainingMirrorAxes({ augmentation: { name: 'm', transforms: [{ kind: 'mirror', p: 0 }] } })).toEqual([]);
    const { mirrorings } = await import('../../../src/runtime/infer/sliding-window.js');
    expect(mirrorings([0, 1, 2]).length).toBe(8);
    expect(mirrorings([1, 2])).toEqual([[], [3], [2], [2, 3]]);
    expect(mirrorings([])).toEqual([[]]);
  });
});
