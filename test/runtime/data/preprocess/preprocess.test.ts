import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { loadRawCase, loadRawDataset } from '../../../../src/runtime/data/raw/dataset.js';
import { MtDataError } from '../../../../src/runtime/data/errors.js';
import { preprocessCollection, preprocessCollectionDetailed, regionMask } from '../../../../src/runtime/data/preprocess/collection.js';
import { targetShape } from '../../../../src/runtime/data/preprocess/resample.js';
import { QUICKSTART_DATASETS, synthesizeCollection } from '../../../../src/runtime/data/synth/collection.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-pre-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const chosen = QUICKSTART_DATASETS.filter((d) => ['Dataset901_SynthLiver', 'Dataset903_SynthAbdomen', 'Dataset905_SynthKidney'].includes(d.folder));
const inputs = () => chosen.map((d) => ({ name: d.folder.replace(/^Dataset\d+_/, ''), dir: join(tmp, d.folder), classes: d.classes }));
const SPACING: Vec3 = [8, 8, 8];
const OPTIONS = { spacing: SPACING, normalization: { kind: 'ct' as const, scope: 'collection' as const }, split: { holdoutFraction: 0.25, seed: 5 }, foregroundSamples: 200_000 };

beforeAll(async () => {
  await synthesizeCollection(tmp, { generator: 'quickstart', seed: 11, casesPerDataset: 4, spacingScale: 2, datasets: chosen.map((d) => d.folder) });
});

describe('preprocessCollection end to end (tiny synthetic collection)', () => {
  it('crops, normalises over the collection, resamples, splits and lists class voxels', async () => {
    const events: [number, number, string][] = [];
    const { datasets, stats } = await preprocessCollectionDetailed(inputs(), OPTIONS, (d, t, m) => events.push([d, t, m]));
    expect(datasets.map((d) => d.name)).toEqual(['SynthLiver', 'SynthAbdomen', 'SynthKidney']);
    expect(events).toHaveLength(24);
    expect(events.map((e) => e[0])).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(events.every((e) => e[1] === 24)).toBe(true);
    // one statistic for the whole collection, in HU, plausible for organs and tumours
    const s = stats.SynthLiver;
    expect(stats.SynthAbdomen).toBe(s);
    expect(s.mean).toBeGreaterThan(40);
    expect(s.mean).toBeLessThan(160);
    expect(s.p005).toBeLessThan(s.mean);
    expect(s.p995).toBeGreaterThan(s.mean);

    let fgSum = 0;
    let fgN = 0;
    for (const ds of datasets) {
      const spec = chosen.find((c) => c.folder.endsWith(ds.name))!;
      const raw = await loadRawDataset(join(tmp, spec.folder));
      expect(ds.holdout).toHaveLength(1);
      expect(ds.train).toHaveLength(3);
      expect([...ds.train, ...ds.holdout].sort()).toEqual(raw.cases.map((c) => c.id));
      const allowed = new Set(raw.labelValues);
      for (const c of ds.cases) {
        expect(c.dataset).toBe(ds.name);
        expect(c.spacing).toEqual(SPACING);
        const rc = await loadRawCase(raw, c.id);
        // CT has air (-1000) everywhere outside the body: the nonzero crop keeps the whole grid
        expect(c.shape).toEqual(targetShape(rc.image.shape, rc.image.spacing, SPACING));
        expect(c.image.length).toBe(c.shape[0] * c.shape[1] * c.shape[2]);
        expect(c.label.length).toBe(c.image.length);
        for (const v of new Set(c.label)) expect(allowed.has(v)).toBe(true);
        const lo = (s.p005 - s.mean) / s.std;
        const hi = (s.p995 - s.mean) / s.std;
        let outside = 0;
        for (const v of c.image) if (v < lo - 1e-4 || v > hi + 1e-4) outside++;
        expect(outside).toBe(0);
        for (let i = 0; i < c.label.length; i++) if (c.label[i] > 0) { fgSum += c.image[i]; fgN++; }
        for (const cls of spec.classes) {
          const voxels = c.classVoxels[cls.name];
          expect(voxels).toBeInstanceOf(Uint32Array);
          const mask = regionMask(c.label, cls.labels);
          const inRegion = mask.reduce((a, b) => a + b, 0);
          expect(voxels.length).toBe(Math.min(inRegion, 10_000));
          expect(voxels.every((i) => mask[i] === 1)).toBe(true);
        }
      }
    }
    // foreground is roughly zero-mean after z-scoring with the foreground statistics
    expect(Math.abs(fgSum / fgN)).toBeLessThan(0.5);
  });

  it('is deterministic, and per-dataset scope gives each dataset its own statistics', async () => {
    const a = await preprocessCollection(inputs(), OPTIONS);
    const b = await preprocessCollectionDetailed(inputs(), { ...OPTIONS, normalization: { kind: 'ct', scope: 'dataset' } });
    const again = await preprocessCollection(inputs(), OPTIONS);
    expect(again.map((d) => [d.train, d.holdout])).toEqual(a.map((d) => [d.train, d.holdout]));
    expect(Array.from(again[0].cases[0].image)).toEqual(Array.from(a[0].cases[0].image));
    expect(Array.from(again[2].cases[1].classVoxels.kidney)).toEqual(Array.from(a[2].cases[1].classVoxels.kidney));
    expect(b.stats.SynthLiver.mean).not.toBe(b.stats.SynthKidney.mean);
    expect(Array.from(b.datasets[0].cases[0].label)).toEqual(Array.from(a[0].cases[0].label));
  });

  it('trilinear and nearest image interpolation differ, labels do not depend on it', async () => {
    const one = inputs().slice(0, 1);
    const lin = await preprocessCollection(one, OPTIONS);
    const near = await preprocessCollection(one, { ...OPTIONS, imageOrder: 0 });
    expect(Array.from(near[0].cases[0].label)).toEqual(Array.from(lin[0].cases[0].label));
    expect(Array.from(near[0].cases[0].image)).not.toEqual(Array.from(lin[0].cases[0].image));
  });

  it('rejects classes that use undeclared labels, naming the dataset and class', async () => {
    const bad = inputs();
    bad[1] = { ...bad[1], classes: [{ name: 'kidney', labels: [7], tags: [] }] };
    bad[2] = { ...bad[2], dir: join(tmp, 'missing') };
    const e = await preprocessCollection(bad, OPTIONS).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(MtDataError);
    const msg = (e as MtDataError).message;
    expect(msg).toContain('2 datasets are invalid');
    expect(msg).toContain("dataset 'SynthAbdomen': class 'kidney' uses label 7");
    expect(msg).toContain('dataset folder not found');
  });
});
