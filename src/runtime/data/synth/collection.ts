/**
 * `synthesizeCollection`: writes the built-in synthetic CT collection as nnU-Net raw datasets.
 *
 * Deterministic for a seed: case `k` of a dataset draws from its own generator seeded by
 * (seed, dataset folder, k), so a case does not change when other options (case counts, which
 * datasets) change. Images are int16 HU, labels uint8, affines diagonal RAS (see phantom.ts).
 * Each dataset folder is built under a hidden temporary name and renamed into place when complete.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Vec3 } from '../../../graph/types.js';
import type { Affine } from '../nifti/affine.js';
import { pathExists, tempSibling } from '../../io/atomic.js';
import { MtDataError } from '../errors.js';
import { writeNifti } from '../nifti/write.js';
import { makeRng } from '../../rng.js';
import { type Anatomy, anatomyAffine, renderImage, renderTissue, sampleAnatomy } from './phantom.js';
import { QUICKSTART_DATASETS, type QuickstartDataset } from './protocols.js';

export { QUICKSTART_DATASETS, type QuickstartDataset } from './protocols.js';
export { Tissue } from './phantom.js';

export const SYNTH_GENERATORS = ['quickstart'] as const;

export interface SynthOptions {
  /** Built-in generator name; `quickstart` is the one that exists. */
  generator: string;
  seed: number;
  /** Cases per dataset: one number for all, or per folder name; default each dataset's own count. */
  casesPerDataset?: number | Partial<Record<string, number>>;
  /** Multiplies voxel spacing (default 1). 2 gives about 8x fewer voxels: for quick tests. */
  spacingScale?: number;
  /** Only these dataset folders (default all five). */
  datasets?: string[];
  /** Replace dataset folders that already exist (default false: they are left alone and reported skipped). */
  overwrite?: boolean;
  /** gzip level of the written files (default 1: noisy int16 CT gains ~2% from level 6 at twice the time). */
  gzipLevel?: number;
  onProgress?: (done: number, total: number, message: string) => void;
}

export interface SynthDatasetResult {
  /** Folder name, e.g. `Dataset901_SynthLiver`. */
  name: string;
  dir: string;
  cases: number;
  labels: Record<string, number>;
  /** True when the folder already existed and was left untouched. */
  skipped: boolean;
}

export interface SynthResult {
  datasets: SynthDatasetResult[];
}

export interface SynthCase {
  id: string;
  image: Int16Array;
  label: Uint8Array;
  /** What each voxel really is (phantom.ts's Tissue values), whatever the protocol labels. */
  tissue: Uint8Array;
  shape: Vec3;
  spacing: Vec3;
  affine: Affine;
  anatomy: Anatomy;
}

function findDataset(folder: string): QuickstartDataset {
  const d = QUICKSTART_DATASETS.find((x) => x.folder === folder);
  if (!d) {
    throw new MtDataError(`unknown synthetic dataset '${folder}'; the quickstart generator makes ${QUICKSTART_DATASETS.map((x) => x.folder).join(', ')}`);
  }
  return d;
}

/** Every case of this index has a liver tumour except one in six; likewise kidney tumours (other cases). */
function tumourPresence(caseIndex: number): { liver: boolean; kidney: boolean } {
  return { liver: caseIndex % 6 !== 5, kidney: caseIndex % 6 !== 2 };
}

/** Generates one case in memory (what `synthesizeCollection` writes for it). */
export function synthesizeCase(folder: string, caseIndex: number, seed: number, options: { spacingScale?: number } = {}): SynthCase {
  const ds = findDataset(folder);
  const rng = makeRng(seed, 'quickstart', folder, caseIndex);
  const present = tumourPresence(caseIndex);
  const anatomy = sampleAnatomy(rng, { spacingScale: options.spacingScale, liverTumours: present.liver, kidneyTumours: present.kidney });
  const tissue = renderTissue(anatomy);
  const image = renderImage(anatomy, tissue, makeRng(seed, 'quickstart-noise', folder, caseIndex));
  const label = ds.annotate(tissue, anatomy);
  return {
    id: `${ds.casePrefix}_${String(caseIndex).padStart(3, '0')}`,
    image,
    label,
    tissue,
    shape: anatomy.shape,
    spacing: anatomy.spacing,
    affine: anatomyAffine(anatomy),
    anatomy,
  };
}

function caseCount(ds: QuickstartDataset, option: SynthOptions['casesPerDataset']): number {
  const n = typeof option === 'number' ? option : option?.[ds.folder] ?? ds.cases;
  if (!Number.isInteger(n) || n < 1) {
    throw new MtDataError(`casesPerDataset for ${ds.folder} is ${String(n)}; it must be a positive integer`);
  }
  return n;
}


/** Writes the chosen synthetic datasets under `dir`; returns what is there afterwards. */
export async function synthesizeCollection(dir: string, options: SynthOptions): Promise<SynthResult> {
  if (!(SYNTH_GENERATORS as readonly string[]).includes(options.generator)) {
    throw new MtDataError(`${dir}: unknown synthetic generator '${options.generator}'; available: ${SYNTH_GENERATORS.join(', ')}`, { path: dir });
  }
  if (!Number.isInteger(options.seed)) {
    throw new MtDataError(`${dir}: synthetic seed must be an integer, got ${String(options.seed)}`, { path: dir });
  }
  const chosen = (options.datasets ?? QUICKSTART_DATASETS.map((d) => d.folder)).map(findDataset);
  const counts = chosen.map((d) => caseCount(d, options.casesPerDataset));
  const total = counts.reduce((a, b) => a + b, 0);
  let done = 0;
  await mkdir(dir, { recursive: true });
  const results: SynthDatasetResult[] = [];
  for (let d = 0; d < chosen.length; d++) {
    const ds = chosen[d];
    const n = counts[d];
    const final = join(dir, ds.folder);
    const result: SynthDatasetResult = { name: ds.folder, dir: final, cases: n, labels: { ...ds.labels }, skipped: false };
    if ((await pathExists(final)) && !options.overwrite) {
      if (!(await pathExists(join(final, 'dataset.json')))) {
        throw MtDataError.about(final, 'exists but has no dataset.json (not a dataset this generator wrote)', 'Move it away or pass overwrite to replace it');
      }
      results.push({ ...result, skipped: true });
      done += n;
      options.onProgress?.(done, total, `${ds.folder}: exists, left as it is`);
      continue;
    }
    const tmp = tempSibling(final);
    try {
      await mkdir(join(tmp, 'imagesTr'), { recursive: true });
      await mkdir(join(tmp, 'labelsTr'), { recursive: true });
      let pending: Promise<unknown> = Promise.resolve();
      for (let k = 0; k < n; k++) {
        const c = synthesizeCase(ds.folder, k, options.seed, { spacingScale: options.spacingScale });
        await pending; // compress/write case k-1 while case k was rendered; never more than one in flight
        const level = options.gzipLevel ?? 1;
        pending = Promise.all([
          writeNifti(join(tmp, 'imagesTr', `${c.id}_0000.nii.gz`), { data: c.image, shape: c.shape, spacing: c.spacing }, { datatype: 'int16', affine: c.affine, gzipLevel: level, description: 'multitalent synthetic CT (HU)' }),
          writeNifti(join(tmp, 'labelsTr', `${c.id}.nii.gz`), { data: c.label, shape: c.shape, spacing: c.spacing }, { datatype: 'uint8', affine: c.affine, gzipLevel: level, description: `multitalent synthetic labels ${ds.folder}` }),
        ]).then(() => options.onProgress?.(++done, total, `${ds.folder}: ${c.id}`));
      }
      await pending;
      const json = {
        name: ds.folder.replace(/^Dataset\d+_/, ''),
        description: ds.description,
        channel_names: { '0': 'CT' },
        labels: ds.labels,
        numTraining: n,
        file_ending: '.nii.gz',
        synthetic: { generator: options.generator, seed: options.seed, spacingScale: options.spacingScale ?? 1, orientation: 'RAS' },
      };
      await writeFile(join(tmp, 'dataset.json'), JSON.stringify(json, null, 2) + '\n');
      if (await pathExists(final)) {
        const old = tempSibling(final);
        await rename(final, old);
        await rename(tmp, final);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(tmp, final);
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    results.push(result);
  }
  return { datasets: results };
}
