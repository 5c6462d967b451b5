import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRawCase, loadRawDataset } from '../../../../src/runtime/data/raw/dataset.js';
import { MtDataError } from '../../../../src/runtime/data/errors.js';
import { readNifti } from '../../../../src/runtime/data/nifti/index.js';
import { makeRng } from '../../../../src/runtime/rng.js';
import { sampleAnatomy } from '../../../../src/runtime/data/synth/phantom.js';
import { QUICKSTART_DATASETS, Tissue, synthesizeCase, synthesizeCollection } from '../../../../src/runtime/data/synth/collection.js';
import { HAS_NIBABEL, NIBABEL_SKIP_REASON, runPython } from '../python.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = { generator: 'quickstart', seed: 7, casesPerDataset: 2, spacingScale: 3 } as const;
const SCALE = 2; // in-memory protocol checks: about 45 voxels per axis

function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else {
        h.update(p.slice(dir.length));
        const bytes = readFileSync(p);
        h.update(p.endsWith('.gz') ? gunzipSync(bytes) : bytes);
      }
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** Flat indices of the six face neighbours of voxel i that lie inside the grid. */
function neighbours(i: number, shape: readonly number[]): number[] {
  const [nz, ny, nx] = shape;
  const x = i % nx;
  const y = Math.floor(i / nx) % ny;
  const z = Math.floor(i / (nx * ny));
  const out: number[] = [];
  if (x > 0) out.push(i - 1);
  if (x < nx - 1) out.push(i + 1);
  if (y > 0) out.push(i - nx);
  if (y < ny - 1) out.push(i + nx);
  if (z > 0) out.push(i - nx * ny);
  if (z < nz - 1) out.push(i + nx * ny);
  return out;
}

/** Whether voxel i and its whole 3x3x3 neighbourhood (inside the grid) are tissue t. */
function isCore(i: number, tissue: Uint8Array, shape: readonly number[], t: number): boolean {
  const [nz, ny, nx] = shape;
  const x = i % nx;
  const y = Math.floor(i / nx) % ny;
  const z = Math.floor(i / (nx * ny));
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const a = x + dx;
        const b = y + dy;
        const c = z + dz;
        if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue;
        if (tissue[(c * ny + b) * nx + a] !== t) return false;
      }
    }
  }
  return true;
}

/** Mean HU of a tissue's core voxels (whole 3x3x3 neighbourhood the same tissue: no partial-volume blur). */
function coreMean(image: ArrayLike<number>, tissue: Uint8Array, shape: readonly number[], t: number): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < image.length; i++) {
    if (tissue[i] !== t || !isCore(i, tissue, shape, t)) continue;
    s += image[i];
    n++;
  }
  return n > 0 ? s / n : NaN;
}

/** Number of voxels whose label differs from what the protocol gives for its tissue. */
function protocolMismatches(label: Uint8Array, tissue: Uint8Array, want: (t: number) => number): number {
  let bad = 0;
  for (let i = 0; i < label.length; i++) if (label[i] !== want(tissue[i])) bad++;
  return bad;
}

describe('synthesizeCollection', () => {
  const a = join(tmp, 'a');
  beforeAll(async () => {
    await synthesizeCollection(a, SMALL);
  });

  it('writes the five datasets, readable as nnU-Net raw datasets', async () => {
    expect(readdirSync(a).sort()).toEqual(QUICKSTART_DATASETS.map((d) => d.folder).sort());
    for (const d of QUICKSTART_DATASETS) {
      const ds = await loadRawDataset(join(a, d.folder));
      expect(ds.cases).toHaveLength(2);
      expect(ds.json.channel_names).toEqual({ '0': 'CT' });
      expect(ds.json.labels).toEqual(d.labels);
      expect(ds.json.file_ending).toBe('.nii.gz');
      const c = await loadRawCase(ds, ds.cases[0]);
      expect(c.geometry.datatype).toBe('int16');
      expect(c.geometry.affine[0][1]).toBe(0);
      expect(c.geometry.affine[0][0]).toBeCloseTo(c.image.spacing[2], 5);
      expect(c.geometry.affine[2][2]).toBeCloseTo(c.image.spacing[0], 5);
    }
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const b = join(tmp, 'b');
    const c = join(tmp, 'c');
    await synthesizeCollection(b, SMALL);
    await synthesizeCollection(c, { ...SMALL, seed: 8, datasets: ['Dataset901_SynthLiver'] });
    expect(hashTree(b)).toBe(hashTree(a));
    expect(hashTree(join(c, 'Dataset901_SynthLiver'))).not.toBe(hashTree(join(a, 'Dataset901_SynthLiver')));
  });

  it('leaves existing datasets alone, and an interrupted run leaves no half dataset', async () => {
    const before = hashTree(a);
    const r = await synthesizeCollection(a, { ...SMALL, seed: 99 });
    expect(r.datasets.every((d) => d.skipped)).toBe(true);
    expect(hashTree(a)).toBe(before);

    const d = join(tmp, 'interrupted');
    let calls = 0;
    await expect(
      synthesizeCollection(d, {
        ...SMALL,
        onProgress: () => {
          if (++calls === 3) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    // the first dataset (2 cases) completed; the second was cut short and must not exist
    expect(readdirSync(d)).toEqual(['Dataset901_SynthLiver']);
  });

  it('rejects an unknown generator and a foreign folder in the way', async () => {
    await expect(synthesizeCollection(join(tmp, 'x'), { ...SMALL, generator: 'nope' })).rejects.toThrow(/unknown synthetic generator 'nope'/);
    const e = join(tmp, 'foreign');
    mkdirSync(join(e, 'Dataset901_SynthLiver'), { recursive: true });
    await expect(synthesizeCollection(e, SMALL)).rejects.toBeInstanceOf(MtDataError);
    expect(existsSync(join(e, 'Dataset902_SynthLiverTumour'))).toBe(false);
  });

  it.skipIf(!HAS_NIBABEL)(`nibabel reads the written image and label${HAS_NIBABEL ? '' : ` (skipped: ${NIBABEL_SKIP_REASON})`}`, async () => {
    const img = join(a, 'Dataset903_SynthAbdomen', 'imagesTr', 'abdomen_000_0000.nii.gz');
    const lab = join(a, 'Dataset903_SynthAbdomen', 'labelsTr', 'abdomen_000.nii.gz');
    const out = JSON.parse(
      runPython(
        `import sys, json, nibabel as nib, numpy as np
i = nib.load(sys.argv[1]); l = nib.load(sys.argv[2])
print(json.dumps({"shape": list(i.shape), "dtype": str(i.get_data_dtype()), "ldtype": str(l.get_data_dtype()),
  "sum": float(np.asanyarray(i.dataobj).astype(np.int64).sum()), "labels": sorted(int(v) for v in np.unique(np.asanyarray(l.dataobj))),
  "same": bool(np.allclose(i.affine, l.affine)), "codes": [int(i.header["qform_code"]), int(i.header["sform_code"])]}))`,
        [img, lab],
      ),
    ) as { shape: number[]; dtype: string; ldtype: string; sum: number; labels: number[]; same: boolean; codes: number[] };
    const ours = await readNifti(img);
    expect(out.shape).toEqual([...ours.volume.shape].reverse());
    expect(out.dtype).toBe('int16');
    expect(out.ldtype).toBe('uint8');
    expect(out.sum).toBe(ours.volume.data.reduce((s, v) => s + v, 0));
    expect(out.labels).toEqual([0, 1, 2, 3]);
    expect(out.same).toBe(true);
    expect(out.codes).toEqual([1, 1]);
  });
});

describe('synthetic anatomy and protocols', () => {
  const cases = (folder: string, n = 3, spacingScale = SCALE) =>
    Array.from({ length: n }, (_, k) => synthesizeCase(folder, k, 3, { spacingScale }));

  it('samples grids of 50-130 voxels per axis at the quickstart spacings', () => {
    for (let k = 0; k < 40; k++) {
      const a = sampleAnatomy(makeRng(5, k), { liverTumours: true, kidneyTumours: true });
      for (const n of a.shape) expect(n).toBeGreaterThanOrEqual(37);
      for (const n of a.shape) expect(n).toBeLessThanOrEqual(127);
      expect(a.spacing[0]).toBeGreaterThanOrEqual(2);
      expect(a.spacing[0]).toBeLessThanOrEqual(4);
      expect(a.spacing[1]).toBe(a.spacing[2]);
      expect(a.spacing[2]).toBeGreaterThanOrEqual(1.5);
      expect(a.spacing[2]).toBeLessThanOrEqual(2.5);
      for (let ax = 0; ax < 3; ax++) {
        const fov = a.shape[ax] * a.spacing[ax];
        expect(fov).toBeGreaterThan(145);
        expect(fov).toBeLessThan(195);
      }
    }
  });

  it('every image holds every organ, with HU in the documented ranges', () => {
    let tumourCores = 0;
    // full quickstart resolution: thin structures (aorta, cortex) need blur-free core voxels
    for (const c of [...cases('Dataset902_SynthLiverTumour', 2, 1), ...cases('Dataset905_SynthKidney', 2, 1)]) {
      const mean = (t: number) => coreMean(c.image, c.tissue, c.shape, t);
      for (const t of [Tissue.LIVER, Tissue.SPLEEN, Tissue.AORTA, Tissue.KIDNEY_CORTEX, Tissue.CORTICAL_BONE, Tissue.FAT]) {
        expect(c.tissue.includes(t)).toBe(true);
      }
      expect(mean(Tissue.AIR)).toBeLessThan(-950);
      expect(mean(Tissue.FAT)).toBeGreaterThan(-130);
      expect(mean(Tissue.FAT)).toBeLessThan(-50);
      expect(mean(Tissue.LIVER)).toBeGreaterThan(50);
      expect(mean(Tissue.LIVER)).toBeLessThan(115);
      expect(mean(Tissue.SPLEEN)).toBeGreaterThan(40);
      expect(mean(Tissue.SPLEEN)).toBeLessThan(120);
      expect(mean(Tissue.AORTA)).toBeGreaterThan(120);
      expect(mean(Tissue.AORTA)).toBeLessThan(260);
      expect(mean(Tissue.KIDNEY_MEDULLA)).toBeGreaterThan(70); // the cortex is a shell too thin for a blur-free core here
      expect(c.anatomy.hu[Tissue.KIDNEY_CORTEX]).toBeGreaterThanOrEqual(150);
      expect(mean(Tissue.CANCELLOUS_BONE)).toBeGreaterThan(350);
      let boneMax = -Infinity;
      for (let i = 0; i < c.image.length; i++) if (c.tissue[i] === Tissue.CORTICAL_BONE && c.image[i] > boneMax) boneMax = c.image[i];
      expect(boneMax).toBeGreaterThan(600);
      const lt = mean(Tissue.LIVER_TUMOUR);
      if (Number.isFinite(lt)) {
        tumourCores++;
        expect(lt).toBeLessThan(mean(Tissue.LIVER) - 15);
        expect(lt).toBeGreaterThan(10);
      }
      const kt = mean(Tissue.KIDNEY_TUMOUR);
      if (Number.isFinite(kt)) {
        tumourCores++;
        expect(kt).toBeGreaterThan(15);
        expect(kt).toBeLessThan(75);
      }
      let outOfRange = 0;
      for (const v of c.image) if (v < -1024 || v > 3071) outOfRange++;
      expect(outOfRange).toBe(0);
    }
    expect(tumourCores).toBeGreaterThanOrEqual(2);
  });

  it('901: liver 1, tumour 2, every tumour voxel enclosed by liver; most cases have a tumour', () => {
    const cs = cases('Dataset901_SynthLiver', 6);
    expect(cs.filter((c) => c.label.includes(2)).length).toBeGreaterThanOrEqual(4);
    for (const c of cs) {
      expect(protocolMismatches(c.label, c.tissue, (t) => (t === Tissue.LIVER ? 1 : t === Tissue.LIVER_TUMOUR ? 2 : 0))).toBe(0);
      let exposed = 0;
      for (let i = 0; i < c.label.length; i++) {
        if (c.label[i] === 2 && neighbours(i, c.shape).some((j) => c.label[j] === 0)) exposed++;
      }
      expect(exposed).toBe(0);
    }
  });

  it('902: only tumours are labelled; the liver is in the image but unlabelled', () => {
    for (const c of cases('Dataset902_SynthLiverTumour')) {
      expect(c.tissue.includes(Tissue.LIVER)).toBe(true);
      expect(protocolMismatches(c.label, c.tissue, (t) => (t === Tissue.LIVER_TUMOUR ? 1 : 0))).toBe(0);
    }
    expect(cases('Dataset902_SynthLiverTumour', 4).filter((c) => c.label.includes(1)).length).toBeGreaterThanOrEqual(3);
  });

  it('903: liver includes the tumour (label 1), aorta labelled on every slice it crosses', () => {
    const cs = cases('Dataset903_SynthAbdomen', 4);
    expect(cs.some((c) => c.tissue.includes(Tissue.LIVER_TUMOUR))).toBe(true);
    for (const c of cs) {
      const slice = c.shape[1] * c.shape[2];
      const want = (t: number) => (t === Tissue.LIVER || t === Tissue.LIVER_TUMOUR ? 1 : t === Tissue.SPLEEN ? 2 : t === Tissue.AORTA ? 3 : 0);
      expect(protocolMismatches(c.label, c.tissue, want)).toBe(0);
      for (let z = 0; z < c.shape[0]; z++) expect(c.label.subarray(z * slice, (z + 1) * slice).includes(3)).toBe(true);
    }
  });

  it('904: aorta label stops at the kidneys while the vessel continues below in the image', () => {
    for (const c of cases('Dataset904_SynthVessel')) {
      const slice = c.shape[1] * c.shape[2];
      const zOf = (k: number) => c.anatomy.origin[2] + k * c.spacing[0];
      let below = 0;
      let above = 0;
      for (let k = 0; k < c.shape[0]; k++) {
        const lab = c.label.subarray(k * slice, (k + 1) * slice);
        const tis = c.tissue.subarray(k * slice, (k + 1) * slice);
        expect(tis.includes(Tissue.AORTA)).toBe(true); // the vessel is in every slice of the image
        if (zOf(k) < c.anatomy.kidneyLevelZ) {
          expect(lab.includes(1)).toBe(false);
          below++;
        } else {
          expect(lab.includes(1)).toBe(true);
          above++;
        }
      }
      expect(below).toBeGreaterThan(2);
      expect(above).toBeGreaterThan(2);
      // spleen labelled 2 everywhere it is
      let spleenMissed = 0;
      for (let i = 0; i < c.label.length; i++) if (c.tissue[i] === Tissue.SPLEEN && c.label[i] !== 2) spleenMissed++;
      expect(spleenMissed).toBe(0);
    }
  });

  it('905: both kidneys 1, kidney tumours 2 and large enough to learn', () => {
    const cs = cases('Dataset905_SynthKidney', 6);
    expect(cs.filter((c) => c.label.includes(2)).length).toBeGreaterThanOrEqual(4);
    for (const c of cs) {
      const nx = c.shape[2];
      let left = 0;
      let right = 0;
      let tumour = 0;
      const protocol = (t: number) => (t === Tissue.KIDNEY_CORTEX || t === Tissue.KIDNEY_MEDULLA ? 1 : t === Tissue.KIDNEY_TUMOUR ? 2 : 0);
      expect(protocolMismatches(c.label, c.tissue, protocol)).toBe(0);
      for (let i = 0; i < c.label.length; i++) {
        const want = c.label[i];
        if (want === 1) {
          if (c.anatomy.origin[0] + (i % nx) * c.spacing[2] > 0) right++;
          else left++;
        }
        if (want === 2) tumour++;
      }
      expect(left).toBeGreaterThan(0);
      expect(right).toBeGreaterThan(0);
      if (tumour > 0) expect(tumour * c.spacing[0] * c.spacing[1] * c.spacing[2]).toBeGreaterThan(2000); // > 2 cm³
    }
  });
});
