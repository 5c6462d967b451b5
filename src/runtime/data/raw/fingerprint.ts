/**
 * Dataset fingerprints (nnU-Net's `DatasetFingerprintExtractor`, per dataset): per case the shape and
 * spacing (internal RAS+ order), the shape after cropping to nonzero, voxel counts per label value and
 * foreground intensities sampled with a fixed seed — every case contributes the same number, drawn
 * with replacement from its foreground (label > 0) inside the crop — and over the dataset the
 * intensity statistics CT normalisation uses (mean, std, 0.5/99.5 percentiles; also min, max, median).
 *
 * Fingerprints are cached by a key over the contents of dataset.json and of every image and label
 * file, the sample budget and CACHE_CODE_VERSION; the samples are kept (float32) so that a
 * collection-wide scheme can pool them without rereading any image.
 */
import type { Vec3 } from '../../../graph/types.js';
import { type PreprocessCache, cacheKey } from '../cache/cache.js';
import { fileContentHash } from '../cache/content-hash.js';
import { boxShape, cropToBox, nonzeroBoundingBox } from '../preprocess/crop.js';
import { type RawDataset, loadRawCase } from './dataset.js';
import { type CtStats, ctStats, percentile, sampleForeground } from '../preprocess/normalize.js';
import { makeRng } from '../../rng.js';

/** nnU-Net samples 1e8 foreground voxels per dataset; this project defaults to 1e7 (see docs/data.md). */
export const DEFAULT_FOREGROUND_SAMPLES = 10_000_000;
/** Seed of the fixed draws: nnU-Net uses 1234 too. */
export const FIXED_SEED = 1234;

export interface CaseFingerprint {
  id: string;
  /** [z, y, x] in the internal RAS+ order, before cropping. */
  shape: Vec3;
  spacing: Vec3;
  /** nibabel orientation code of the image file. */
  orientation: string;
  croppedShape: Vec3;
  /** Voxels per label value present in the label file. */
  labelVoxels: Record<string, number>;
  /** Foreground intensity samples this case contributed (0 when it has no foreground). */
  samples: number;
}

export interface IntensityStats extends CtStats {
  min: number;
  max: number;
  median: number;
}

export interface DatasetFingerprint {
  key: string;
  folder: string;
  dir: string;
  cases: CaseFingerprint[];
  /** Per-axis median of the case spacings, [z, y, x]. */
  medianSpacing: Vec3;
  /** Over all cases' foreground samples; null when no case has foreground. */
  intensity: IntensityStats | null;
  /** Voxels per label value over the dataset. */
  labelVoxels: Record<string, number>;
  samplesPerCase: number;
}

export interface FingerprintOptions {
  cache?: PreprocessCache;
  /** Foreground samples per dataset, spread evenly over the cases (default 1e7). */
  foregroundSamples?: number;
  onCase?: (caseId: string, cached: boolean) => void;
  /** Runs before computing (not on a cache hit), e.g. a full dataset check that reports every problem. */
  validate?: () => Promise<unknown>;
}

export interface FingerprintResult {
  fingerprint: DatasetFingerprint;
  /** The foreground samples, case after case (cases[i].samples each). */
  samples: Float32Array;
  cached: boolean;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function intensityStats(samples: Float32Array): IntensityStats | null {
  const base = ctStats([samples]);
  if (!base) return null;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < samples.length; i++) {
    if (samples[i] < min) min = samples[i];
    if (samples[i] > max) max = samples[i];
  }
  return { ...base, min, max, median: percentile(Float32Array.from(samples), 50) };
}

/** The key of a dataset's fingerprint: contents of dataset.json and of every case file, and the budget. */
export async function fingerprintKey(ds: RawDataset, budget: number, memoDir?: string, deferred?: (() => Promise<void>)[]): Promise<string> {
  const files: [string, string, string][] = [];
  for (const c of ds.cases) files.push([c.id, await fileContentHash(c.imagePath, memoDir, deferred), await fileContentHash(c.labelPath, memoDir, deferred)]);
  return cacheKey({ kind: 'fingerprint', json: ds.json, files, budget, seed: FIXED_SEED });
}

/** Case-file hashes by case id (memoised), for case cache keys. */
export async function caseHashes(ds: RawDataset, memoDir?: string): Promise<Map<string, [string, string]>> {
  const out = new Map<string, [string, string]>();
  for (const c of ds.cases) out.set(c.id, [await fileContentHash(c.imagePath, memoDir), await fileContentHash(c.labelPath, memoDir)]);
  return out;
}

async function readCached(cache: PreprocessCache, key: string, ds: RawDataset): Promise<FingerprintResult | null> {
  const json = await cache.read('fingerprints', `${key}.json`);
  const bin = await cache.read('fingerprints', `${key}.samples.f32`);
  if (!json || !bin) return null;
  try {
    const fp = JSON.parse(new TextDecoder().decode(json)) as DatasetFingerprint;
    const total = fp.cases.reduce((s, c) => s + c.samples, 0);
    if (fp.key !== key || bin.length !== 4 * total) return null;
    return { fingerprint: { ...fp, dir: ds.dir }, samples: new Float32Array(bin.slice().buffer), cached: true };
  } catch {
    return null;
  }
}

/** Computes (or reads from the cache) the fingerprint of a validated raw dataset. */
export async function datasetFingerprint(ds: RawDataset, options: FingerprintOptions = {}): Promise<FingerprintResult> {
  const budget = options.foregroundSamples ?? DEFAULT_FOREGROUND_SAMPLES;
  const cache = options.cache;
  const memos: (() => Promise<void>)[] = [];
  const key = await fingerprintKey(ds, budget, cache?.path('hashes', ''), memos);
  const compute = async (): Promise<FingerprintResult> => {
    if (cache) {
      const hit = await readCached(cache, key, ds);
      if (hit) {
        for (const write of memos) await write();
        for (const c of ds.cases) options.onCase?.(c.id, true);
        return hit;
      }
    }
    await options.validate?.();
    const perCase = Math.max(1, Math.floor(budget / ds.cases.length));
    const cases: CaseFingerprint[] = [];
    const parts: Float32Array[] = [];
    const labelVoxels: Record<string, number> = {};
    for (const ref of ds.cases) {
      const c = await loadRawCase(ds, ref);
      const box = nonzeroBoundingBox(c.image.data, c.image.shape);
      const image = cropToBox(c.image.data, c.image.shape, box);
      const label = cropToBox(c.label.data, c.label.shape, box);
      const s = sampleForeground(image, label, perCase, makeRng(FIXED_SEED, 'foreground', c.id));
      parts.push(s);
      const counts = new Float64Array(256);
      const lab = c.label.data;
      for (let i = 0; i < lab.length; i++) counts[lab[i]]++;
      const lv: Record<string, number> = {};
      counts.forEach((n, v) => {
        if (n > 0) {
          lv[String(v)] = n;
          labelVoxels[String(v)] = (labelVoxels[String(v)] ?? 0) + n;
        }
      });
      cases.push({
        id: c.id,
        shape: c.image.shape,
        spacing: c.image.spacing,
        orientation: c.geometry.orientationCode,
        croppedShape: boxShape(box),
        labelVoxels: lv,
        samples: s.length,
      });
      options.onCase?.(c.id, false);
    }
    const total = parts.reduce((s, p) => s + p.length, 0);
    const samples = new Float32Array(total);
    let off = 0;
    for (const p of parts) {
      samples.set(p, off);
      off += p.length;
    }
    const fingerprint: DatasetFingerprint = {
      key,
      folder: ds.folder,
      dir: ds.dir,
      cases,
      medianSpacing: [0, 1, 2].map((a) => median(cases.map((c) => c.spacing[a]))) as Vec3,
      intensity: intensityStats(samples),
      labelVoxels,
      samplesPerCase: perCase,
    };
    if (cache) {
      // samples first: the JSON is what marks the entry complete
      await cache.write('fingerprints', `${key}.samples.f32`, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
      await cache.write('fingerprints', `${key}.json`, JSON.stringify(fingerprint, null, 1));
      for (const write of memos) await write();
    }
    return { fingerprint, samples, cached: false };
  };
  return cache ? cache.once(`fingerprint:${key}`, compute) : compute();
}

/**
 * One statistic for a whole collection: every case of every dataset contributes the same number of
 * samples (a prefix of its own draw, which is itself a uniform draw), at most `budget` in total.
 */
export function pooledStats(results: FingerprintResult[], budget = DEFAULT_FOREGROUND_SAMPLES): CtStats | null {
  const totalCases = results.reduce((s, r) => s + r.fingerprint.cases.length, 0);
  // equal weight per case: no more than the smallest per-case draw of any dataset
  const m = Math.max(1, Math.min(Math.floor(budget / Math.max(1, totalCases)), ...results.map((r) => r.fingerprint.samplesPerCase)));
  const parts: Float32Array[] = [];
  for (const r of results) {
    let off = 0;
    for (const c of r.fingerprint.cases) {
      parts.push(r.samples.subarray(off, off + Math.min(m, c.samples)));
      off += c.samples;
    }
  }
  return ctStats(parts);
}
