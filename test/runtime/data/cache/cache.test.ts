/** The preprocessing cache: reuse, invalidation by content, concurrency, crash safety, fingerprints. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { PreprocessCache } from '../../../../src/runtime/data/cache/cache.js';
import { decodeCase, encodeCase } from '../../../../src/runtime/data/cache/case-file.js';
import { loadRawDataset } from '../../../../src/runtime/data/raw/dataset.js';
import { datasetFingerprint, pooledStats } from '../../../../src/runtime/data/raw/fingerprint.js';
import { writeNifti } from '../../../../src/runtime/data/nifti/index.js';
import { type PreprocessOptions, preprocessCollectionDetailed } from '../../../../src/runtime/data/preprocess/collection.js';
import { isOnSharedMemory } from '../../../../src/runtime/data/shared.js';
import { CLASSES, FIXTURE_AFFINE, SHAPE, SPACING, caseArrays, writeDataset } from '../fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const A = join(tmp, 'Dataset001_A');
const B = join(tmp, 'Dataset002_B');
beforeAll(async () => {
  await writeDataset(A, 3);
  await writeDataset(B, 4);
});

const OPTIONS = (cacheDir: string): PreprocessOptions => ({
  spacing: [2, 1.5, 1.5] as Vec3,
  normalization: { kind: 'ct', scope: 'dataset' },
  split: { holdoutFraction: 0.34, seed: 3 },
  foregroundSamples: 10_000,
  cacheDir,
});
const INPUTS = [
  { name: 'A', dir: A, classes: CLASSES },
  { name: 'B', dir: B, classes: CLASSES },
];

/** An entry's files (without their content records, `NAME.manifest.json`). */
const entries = (dir: string, kind: string): string[] => (existsSync(join(dir, kind)) ? readdirSync(join(dir, kind)).filter((n) => !n.endsWith('.manifest.json')) : []);

describe('preprocessing cache', () => {
  it('a second run reuses every case and returns identical data', async () => {
    const cache = join(tmp, 'c1');
    const first = await preprocessCollectionDetailed(INPUTS, OPTIONS(cache));
    expect(first.cacheHits).toBe(0);
    expect(entries(cache, 'cases')).toHaveLength(7);
    expect(entries(cache, 'fingerprints')).toHaveLength(4); // json + samples per dataset
    const events: string[] = [];
    const second = await preprocessCollectionDetailed(INPUTS, OPTIONS(cache), (_d, _t, m) => events.push(m));
    expect(second.cacheHits).toBe(7);
    expect(events.filter((m) => m.includes('(cached)'))).toHaveLength(14);
    for (let d = 0; d < 2; d++) {
      for (let c = 0; c < first.datasets[d].cases.length; c++) {
        const a = first.datasets[d].cases[c];
        const b = second.datasets[d].cases[c];
        expect(b.shape).toEqual(a.shape);
        expect(Array.from(b.image)).toEqual(Array.from(a.image));
        expect(Array.from(b.label)).toEqual(Array.from(a.label));
        expect(Array.from(b.classVoxels.lesion)).toEqual(Array.from(a.classVoxels.lesion));
        expect(b.source).toEqual(a.source);
        // Fresh or from the cache, cases live on shared memory (training's loader workers read them without a copy).
        expect(isOnSharedMemory(a) && isOnSharedMemory(b)).toBe(true);
      }
    }
    expect(second.stats).toEqual(first.stats);
  });

  it('a changed input file invalidates its dataset fingerprint and cases; parameters are part of the key', async () => {
    const dir = join(tmp, 'Dataset003_C');
    await writeDataset(dir, 3);
    const cache = join(tmp, 'c2');
    const inputs = [{ name: 'C', dir, classes: CLASSES }];
    await preprocessCollectionDetailed(inputs, OPTIONS(cache));
    const { image } = caseArrays(1);
    image[205] += 5; // an organ voxel: the foreground statistics change
    await writeNifti(join(dir, 'imagesTr', 'case_001_0000.nii.gz'), { data: image, shape: SHAPE, spacing: SPACING }, { datatype: 'int16', affine: FIXTURE_AFFINE });
    const again = await preprocessCollectionDetailed(inputs, OPTIONS(cache));
    // new statistics (the foreground changed) -> every case of the dataset is recomputed
    expect(again.cacheHits).toBe(0);
    const third = await preprocessCollectionDetailed(inputs, OPTIONS(cache));
    expect(third.cacheHits).toBe(3);
    const other = await preprocessCollectionDetailed(inputs, { ...OPTIONS(cache), imageOrder: 1 });
    expect(other.cacheHits).toBe(0);
  });

  it('concurrent runs on one cache agree and leave only complete entries', async () => {
    const cache = join(tmp, 'c3');
    const [x, y] = await Promise.all([preprocessCollectionDetailed(INPUTS, OPTIONS(cache)), preprocessCollectionDetailed(INPUTS, OPTIONS(cache))]);
    expect(Array.from(x.datasets[1].cases[2].image)).toEqual(Array.from(y.datasets[1].cases[2].image));
    for (const kind of ['cases', 'fingerprints', 'hashes']) {
      for (const f of entries(cache, kind)) expect(f.includes('.tmp-')).toBe(false);
    }
    for (const f of entries(cache, 'cases')) expect(decodeCase(new Uint8Array(readFileSync(join(cache, 'cases', f))))).not.toBeNull();
  });

  it('a partial entry (crash mid-write) is never used: temp files are ignored and swept, damaged entries rebuilt', async () => {
    const cache = join(tmp, 'c4');
    await preprocessCollectionDetailed(INPUTS, OPTIONS(cache));
    const names = entries(cache, 'cases');
    // damage one entry (truncate) and leave an old temp file as a crashed writer would
    const victim = join(cache, 'cases', names[0]);
    const bytes = readFileSync(victim);
    writeFileSync(victim, bytes.subarray(0, bytes.length >> 1));
    const stale = join(cache, 'cases', `.${names[1]}.tmp-999-deadbeef`);
    writeFileSync(stale, bytes.subarray(0, 10));
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(stale, old, old);
    const again = await preprocessCollectionDetailed(INPUTS, OPTIONS(cache));
    expect(again.cacheHits).toBe(6);
    expect(existsSync(stale)).toBe(false);
    expect(decodeCase(new Uint8Array(readFileSync(victim)))).not.toBeNull();
  });

  it('case files round-trip and reject truncation', () => {
    const c = {
      id: 'x',
      dataset: 'D',
      image: Float32Array.from([1.5, -2, 3]),
      label: Uint8Array.from([0, 1, 2]),
      shape: [1, 1, 3] as Vec3,
      spacing: [1, 1, 1] as Vec3,
      classVoxels: { a: Uint32Array.from([1, 2]), b: new Uint32Array(0) },
    };
    const bytes = encodeCase(c);
    const back = decodeCase(bytes);
    expect(back).not.toBeNull();
    expect(Array.from(back!.image)).toEqual([1.5, -2, 3]);
    expect(Array.from(back!.classVoxels.a)).toEqual([1, 2]);
    expect(decodeCase(bytes.subarray(0, bytes.length - 1))).toBeNull();
  });
});

describe('dataset fingerprint', () => {
  it('records shapes, spacings, label voxel counts and nnU-Net-style foreground statistics, cached by content', async () => {
    const ds = await loadRawDataset(A);
    const cache = new PreprocessCache(join(tmp, 'c5'));
    const r = await datasetFingerprint(ds, { cache, foregroundSamples: 3000 });
    expect(r.cached).toBe(false);
    const fp = r.fingerprint;
    expect(fp.cases.map((c) => c.shape)).toEqual([SHAPE, SHAPE, SHAPE]);
    expect(fp.medianSpacing).toEqual(SPACING);
    expect(fp.samplesPerCase).toBe(1000);
    expect(fp.cases.every((c) => c.samples === 1000 && c.orientation === 'RAS')).toBe(true);
    const { label } = caseArrays(0);
    expect(fp.cases[0].labelVoxels['2']).toBe(label.filter((v) => v === 2).length);
    expect(fp.labelVoxels['1']).toBe(3 * label.filter((v) => v === 1).length);
    const s = fp.intensity!;
    // foreground = organ (120..128 HU) and lesion (60 HU)
    expect(s.min).toBe(60);
    expect(s.max).toBeLessThanOrEqual(128);
    expect(s.p005).toBeGreaterThanOrEqual(60);
    expect(s.p995).toBeLessThanOrEqual(128);
    expect(s.mean).toBeGreaterThan(100);
    const again = await datasetFingerprint(ds, { cache, foregroundSamples: 3000 });
    expect(again.cached).toBe(true);
    expect(again.fingerprint.intensity).toEqual(s);
    expect(Array.from(again.samples)).toEqual(Array.from(r.samples));
    // pooled over a collection: every case contributes equally
    const b = await datasetFingerprint(await loadRawDataset(B), { cache, foregroundSamples: 3000 });
    const pooled = pooledStats([r, b], 7000);
    expect(pooled!.samples).toBe(7 * 750);
  });
});

describe('internal orientation', () => {
  it('an LPS-stored dataset preprocesses to exactly the same arrays as the same anatomy stored RAS', async () => {
    const { diagonalAffine } = await import('../../../../src/runtime/data/nifti/affine.js');
    const { mkdirSync, writeFileSync: wf } = await import('node:fs');
    const { DATASET_JSON } = await import('../fixtures.js');
    const lps = join(tmp, 'Dataset009_Lps');
    mkdirSync(join(lps, 'imagesTr'), { recursive: true });
    mkdirSync(join(lps, 'labelsTr'), { recursive: true });
    const [nz, ny, nx] = SHAPE;
    // x and y reversed in storage, with an affine that says so: the same voxels in world space
    const aff = diagonalAffine(SPACING, [-4, 10, 7]);
    const lpsAffine = aff.map((r) => [...r]);
    lpsAffine[0][0] = -aff[0][0];
    lpsAffine[0][3] = aff[0][3] + (nx - 1) * aff[0][0];
    lpsAffine[1][1] = -aff[1][1];
    lpsAffine[1][3] = aff[1][3] + (ny - 1) * aff[1][1];
    const flip = <T extends Float32Array | Uint8Array>(a: T): T => {
      const out = a.slice() as T;
      for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) out[(z * ny + (ny - 1 - y)) * nx + (nx - 1 - x)] = a[(z * ny + y) * nx + x];
      return out;
    };
    for (let c = 0; c < 3; c++) {
      const id = `case_00${c}`;
      const { image, label } = caseArrays(c);
      await writeNifti(join(lps, 'imagesTr', `${id}_0000.nii.gz`), { data: flip(image), shape: SHAPE, spacing: SPACING }, { datatype: 'int16', affine: lpsAffine });
      await writeNifti(join(lps, 'labelsTr', `${id}.nii.gz`), { data: flip(label), shape: SHAPE, spacing: SPACING }, { datatype: 'uint8', affine: lpsAffine });
    }
    wf(join(lps, 'dataset.json'), JSON.stringify(DATASET_JSON));
    const opts = { ...OPTIONS(join(tmp, 'c6')), cacheDir: undefined };
    const ras = await preprocessCollectionDetailed([{ name: 'A', dir: A, classes: CLASSES }], opts);
    const other = await preprocessCollectionDetailed([{ name: 'A', dir: lps, classes: CLASSES }], opts);
    expect(other.datasets[0].cases[1].source?.orientationCode).toBe('LPS');
    expect(ras.datasets[0].cases[1].source?.orientationCode).toBe('RAS');
    for (let c = 0; c < 3; c++) {
      expect(Array.from(other.datasets[0].cases[c].image)).toEqual(Array.from(ras.datasets[0].cases[c].image));
      expect(Array.from(other.datasets[0].cases[c].label)).toEqual(Array.from(ras.datasets[0].cases[c].label));
    }
  });
});
