import { describe, expect, it } from 'vitest';
import type { SamplingKind } from '../../../src/graph/types.js';
import { Prng } from '../../../src/runtime/rng.js';
import { CaseSampler, choosePatchStart, datasetShares, extractPatch, isForcedForeground, roundHalfEven } from '../../../src/runtime/train/sampler.js';
import { blobCase } from './helpers.js';
import type { PreprocessedDataset } from '../../../src/runtime/data/types.js';

function fakeDatasets(sizes: Record<string, number>, extraHoldout = 2): PreprocessedDataset[] {
  return Object.entries(sizes).map(([name, n]) => {
    const cases = Array.from({ length: n + extraHoldout }, (_, i) => blobCase(`${name}_${i}`, name, [4, 4, 4], i, { radius: 0 }));
    return { name, cases, train: cases.slice(0, n).map((c) => c.id), holdout: cases.slice(n).map((c) => c.id) };
  });
}

describe('case sampling', () => {
  const sizes = { small: 4, medium: 16, large: 64 };
  const expected: Record<SamplingKind, Record<string, number>> = {
    // share proportional to sqrt(n): 2 : 4 : 8
    inverse_sqrt: { small: 2 / 14, medium: 4 / 14, large: 8 / 14 },
    uniform: { small: 1 / 3, medium: 1 / 3, large: 1 / 3 },
    // share proportional to n: 4 : 16 : 64
    proportional: { small: 4 / 84, medium: 16 / 84, large: 64 / 84 },
  };
  for (const kind of Object.keys(expected) as SamplingKind[]) {
    it(`${kind}: draw frequencies match the expected dataset shares, training cases only`, () => {
      const data = fakeDatasets(sizes);
      const sampler = new CaseSampler(data, kind);
      const rng = new Prng(123);
      const counts: Record<string, number> = { small: 0, medium: 0, large: 0 };
      const holdout = new Set(data.flatMap((d) => d.holdout));
      const draws = 30000;
      for (let i = 0; i < draws; i++) {
        const c = sampler.next(rng);
        expect(holdout.has(c.id)).toBe(false);
        counts[c.dataset]++;
      }
      for (const name of Object.keys(sizes)) {
        expect(Math.abs(counts[name] / draws - expected[kind][name])).toBeLessThan(0.012);
      }
      const shares = datasetShares(kind, sizes);
      for (const name of Object.keys(sizes)) expect(shares[name]).toBeCloseTo(expected[kind][name], 10);
    });
  }

  it('is deterministic for a seed', () => {
    const data = fakeDatasets({ a: 5, b: 9 });
    const s = new CaseSampler(data, 'inverse_sqrt');
    const seq = (seed: number) => {
      const r = new Prng(seed);
      return Array.from({ length: 50 }, () => s.next(r).id);
    };
    expect(seq(7)).toEqual(seq(7));
    expect(seq(7)).not.toEqual(seq(8));
  });

  it('rejects a training id that is not among the cases', () => {
    const [d] = fakeDatasets({ a: 2 });
    expect(() => new CaseSampler([{ ...d, train: [...d.train, 'ghost'] }], 'uniform')).toThrow(/training case 'ghost'/);
  });
});

describe('foreground oversampling', () => {
  it('forces samples j >= round(B (1 - f)) with Python rounding (nnU-Net)', () => {
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(1.34)).toBe(1);
    // B = 2, f = 0.33: round(1.34) = 1 -> only sample 1 forced
    expect([0, 1].map((j) => isForcedForeground(j, 2, 0.33))).toEqual([false, true]);
    // B = 4: round(2.68) = 3 -> only sample 3
    expect([0, 1, 2, 3].map((j) => isForcedForeground(j, 4, 0.33))).toEqual([false, false, false, true]);
    expect([0, 1].map((j) => isForcedForeground(j, 2, 0))).toEqual([false, false]);
  });

  it('a forced patch contains the picked class; random crops often do not', () => {
    const c = blobCase('x', 'a', [32, 32, 32], 5, { radius: 2 });
    const patch: [number, number, number] = [8, 8, 8];
    const rng = new Prng(9);
    let randomWithFg = 0;
    for (let i = 0; i < 200; i++) {
      const forced = choosePatchStart(c, patch, true, rng);
      expect(forced.centredOn).toBe('blob');
      expect(extractPatch(c, forced.start, patch).label.some((v) => v === 1)).toBe(true);
      const free = choosePatchStart(c, patch, false, rng);
      expect(free.centredOn).toBeNull();
      if (extractPatch(c, free.start, patch).label.some((v) => v === 1)) randomWithFg++;
    }
    expect(randomWithFg).toBeLessThan(100);
  });

  it('falls back to a random crop when the case has no foreground', () => {
    const c = blobCase('x', 'a', [16, 16, 16], 5, { radius: 2 });
    c.classVoxels = { blob: new Uint32Array(0) };
    expect(choosePatchStart(c, [8, 8, 8], true, new Prng(1)).centredOn).toBeNull();
  });

  it('pads volumes smaller than the patch with image 0 and label 0, keeping the volume centred', () => {
    const c = blobCase('x', 'a', [4, 6, 6], 2, { radius: 0 });
    c.image.fill(5);
    c.label.fill(1);
    const rng = new Prng(3);
    for (let i = 0; i < 20; i++) {
      const { start } = choosePatchStart(c, [8, 8, 8], false, rng);
      expect(start).toEqual([-2, -1, -1]);
      const p = extractPatch(c, start, [8, 8, 8]);
      const inside = p.image.filter((v) => v === 5).length;
      expect(inside).toBe(4 * 6 * 6);
      expect(p.label.filter((v) => v === 1).length).toBe(4 * 6 * 6);
      expect(p.image[0]).toBe(0);
      expect(p.label[0]).toBe(0);
    }
  });
});
