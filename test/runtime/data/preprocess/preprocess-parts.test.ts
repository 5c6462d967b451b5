import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { regionMask, sampleClassVoxels } from '../../../../src/runtime/data/preprocess/class-voxels.js';
import { boxShape, cropToBox, nonzeroBoundingBox } from '../../../../src/runtime/data/preprocess/crop.js';
import { MtDataError } from '../../../../src/runtime/data/errors.js';
import { applyCtNormalization, ctStats, percentile, sampleForeground, selectKth } from '../../../../src/runtime/data/preprocess/normalize.js';
import { makeRng } from '../../../../src/runtime/rng.js';
import { splitCases } from '../../../../src/runtime/data/raw/split.js';

describe('CT normalisation statistics', () => {
  it('mean, population std and numpy-style 0.5/99.5 percentiles of a known array', () => {
    const values = Float32Array.from({ length: 101 }, (_, i) => 100 - i); // 0..100, unsorted
    const s = ctStats([values.subarray(0, 40), values.subarray(40)]);
    expect(s).not.toBeNull();
    expect(s!.mean).toBeCloseTo(50, 10);
    expect(s!.std).toBeCloseTo(Math.sqrt(850), 10);
    expect(s!.p005).toBeCloseTo(0.5, 6);
    expect(s!.p995).toBeCloseTo(99.5, 6);
    expect(s!.samples).toBe(101);
    expect(ctStats([new Float32Array(0)])).toBeNull();
  });

  it('selection gives the same order statistics as sorting', () => {
    const rng = makeRng(1);
    for (const n of [1, 2, 7, 1000, 4097]) {
      const a = Float32Array.from({ length: n }, () => Math.round((rng() - 0.5) * 200)); // many ties
      const sorted = Float32Array.from(a).sort();
      for (const k of [0, n >> 1, n - 1]) expect(selectKth(Float32Array.from(a), k)).toBe(sorted[k]);
      const pos = 0.995 * (n - 1);
      const lo = Math.floor(pos);
      const want = sorted[lo] + (pos - lo) * (sorted[Math.min(lo + 1, n - 1)] - sorted[lo]);
      expect(percentile(Float32Array.from(a), 99.5)).toBeCloseTo(want, 4);
    }
  });

  it('samples only foreground voxels, deterministically for a seed', () => {
    const image = Float32Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? i : -1000));
    const label = Uint8Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 + (i % 3) : 0));
    const a = sampleForeground(image, label, 500, makeRng(3));
    expect(a.length).toBe(500);
    expect(a.every((v) => v >= 0 && v % 10 === 0)).toBe(true);
    expect(Array.from(sampleForeground(image, label, 500, makeRng(3)))).toEqual(Array.from(a));
    expect(sampleForeground(image, new Uint8Array(1000), 500, makeRng(3)).length).toBe(0);
  });

  it('clips to the percentiles, then z-scores with max(std, 1e-8)', () => {
    const img = Float32Array.from([-2000, 0, 50, 100, 3000]);
    applyCtNormalization(img, { mean: 50, std: 25, p005: 0, p995: 100, samples: 1 });
    expect(Array.from(img)).toEqual([-2, -2, 0, 2, 2]);
    const flat = Float32Array.from([5, 5]);
    applyCtNormalization(flat, { mean: 5, std: 0, p005: 5, p995: 5, samples: 1 });
    expect(Array.from(flat)).toEqual([0, 0]);
  });
});

describe('crop to nonzero', () => {
  it('finds the bounding box and copies it', () => {
    const shape: Vec3 = [4, 5, 6];
    const data = new Float32Array(120);
    data[(1 * 5 + 2) * 6 + 3] = 7;
    data[(2 * 5 + 4) * 6 + 1] = -3;
    const box = nonzeroBoundingBox(data, shape);
    expect(box).toEqual({ start: [1, 2, 1], end: [3, 5, 4] });
    expect(boxShape(box)).toEqual([2, 3, 3]);
    const c = cropToBox(data, shape, box);
    expect(c.length).toBe(18);
    expect(c[(0 * 3 + 0) * 3 + 2]).toBe(7);
    expect(c[(1 * 3 + 2) * 3 + 0]).toBe(-3);
    expect(nonzeroBoundingBox(new Float32Array(120), shape)).toEqual({ start: [0, 0, 0], end: shape });
  });
});

describe('split', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `case_${String(i).padStart(3, '0')}`);

  it('holds out max(1, round(n * f)) cases, the rest train, deterministically', () => {
    for (const [n, f, h] of [[12, 0.2, 2], [6, 0.2, 1], [10, 0.25, 3], [2, 0, 1], [8, 0.5, 4]] as const) {
      const s = splitCases(ids(n), f, 42, 'D');
      expect(s.holdout).toHaveLength(h);
      expect(s.train).toHaveLength(n - h);
      expect([...s.train, ...s.holdout].sort()).toEqual(ids(n));
      expect(splitCases([...ids(n)].reverse(), f, 42, 'D')).toEqual(s);
    }
    const seeds = new Set(Array.from({ length: 8 }, (_, seed) => splitCases(ids(12), 0.2, seed, 'D').holdout.join()));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('refuses a dataset too small to split', () => {
    expect(() => splitCases(ids(1), 0.2, 1, 'Tiny')).toThrow(MtDataError);
    expect(() => splitCases(ids(1), 0.2, 1, 'Tiny')).toThrow(/Tiny: has 1 case/);
    expect(() => splitCases(ids(5), 1, 1, 'D')).toThrow(/\[0, 1\)/);
  });
});

describe('class regions and voxel lists', () => {
  const label = Uint8Array.from({ length: 50_000 }, (_, i) => (i % 5 === 0 ? 1 : i % 5 === 1 ? 2 : 0));

  it('regionMask is the union of the label values', () => {
    const m = regionMask(label, [1, 2]);
    for (let i = 0; i < 20; i++) expect(m[i]).toBe(i % 5 < 2 ? 1 : 0);
  });

  it('keeps all region voxels when few, else 10,000 distinct ones, all inside the region', () => {
    const few = sampleClassVoxels(label.subarray(0, 1000), [2], 10_000, makeRng(1));
    expect(few.length).toBe(200);
    const many = sampleClassVoxels(label, [1, 2], 10_000, makeRng(1));
    expect(many.length).toBe(10_000);
    expect(new Set(many).size).toBe(10_000);
    expect(Array.from(many).every((i) => label[i] === 1 || label[i] === 2)).toBe(true);
    for (let k = 1; k < many.length; k++) expect(many[k]).toBeGreaterThan(many[k - 1]);
    expect(Array.from(sampleClassVoxels(label, [1, 2], 10_000, makeRng(1)))).toEqual(Array.from(many));
    // drawn across the whole volume, not just its start
    expect(many[many.length - 1]).toBeGreaterThan(45_000);
    expect(sampleClassVoxels(label, [7], 10_000, makeRng(1)).length).toBe(0);
  });
});
