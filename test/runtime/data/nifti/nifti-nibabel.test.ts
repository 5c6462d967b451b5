/**
 * Acceptance: files nibabel writes (every datatype, RAS and LPS, sform-only and qform-only, an
 * oblique affine, scl_slope, NIfTI-2, 4-D) read with nibabel's voxel values and affine; files we
 * write read back in nibabel with identical data, affine and header fields.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Affine, affineMaxDiff } from '../../../../src/runtime/data/nifti/affine.js';
import { readNifti, readNiftiHeader, readNiftiLabel, writeNiftiLike } from '../../../../src/runtime/data/nifti/index.js';
import { HAS_NIBABEL, NIBABEL_SKIP_REASON, runPython } from '../python.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-nib-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  name: string;
  file: string;
  shape: number[];
  affine: Affine;
  axcodes: string;
  data: number[];
  canonical: number[];
  canonicalAffine: Affine;
}

// nibabel writes each case; data are reported flattened in [z, y, x] C order (x fastest), which is
// NIfTI's on-disk order and ours; `canonical` is nibabel's as_closest_canonical, same flattening.
const WRITER = String.raw`
import sys, json, numpy as np, nibabel as nib
out = sys.argv[1]
X, Y, Z = 5, 4, 3
i = np.arange(X * Y * Z).reshape(Z, Y, X).transpose(2, 1, 0)  # [x,y,z] array of the C index over [z,y,x]
ras = np.array([[0.8, 0, 0, -10], [0, 0.9, 0, 20], [0, 0, 2.5, -5], [0, 0, 0, 1]], float)
lps = np.array([[-0.8, 0, 0, 10], [0, -0.9, 0, 20], [0, 0, 2.5, -5], [0, 0, 0, 1]], float)
t = 0.35
rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t) * np.cos(0.2), np.cos(t) * np.cos(0.2), -np.sin(0.2)], [np.sin(t) * np.sin(0.2), np.cos(t) * np.sin(0.2), np.cos(0.2)]])
obl = np.eye(4); obl[:3, :3] = rot @ np.diag([0.8, 0.9, 2.5]); obl[:3, 3] = [3.5, -7.25, 12]
perm = np.array([[0, 0, -2.5, 30], [-0.8, 0, 0, 12], [0, 0.9, 0, -40], [0, 0, 0, 1]], float)  # sagittal-like, PSL..
cases = []
def save(name, img):
    path = f"{out}/{name}.nii.gz" if not name.endswith("_nii") else f"{out}/{name}.nii"
    nib.save(img, path)
    back = nib.load(path)
    d = back.get_fdata()
    can = nib.as_closest_canonical(back)
    cd = can.get_fdata()
    flat = lambda a: (a[..., 0] if a.ndim == 4 else a).transpose(2, 1, 0).ravel().tolist()
    cases.append({"name": name, "file": path, "shape": list(back.shape), "affine": back.affine.tolist(),
                  "axcodes": "".join(nib.aff2axcodes(back.affine)), "data": flat(d), "canonical": flat(cd),
                  "canonicalAffine": can.affine.tolist()})
vals = {"uint8": i % 250, "int8": i - 30, "int16": i * 311 - 9000, "uint16": i * 997, "int32": i * 70001 - 2000000,
        "uint32": i * 65537, "int64": i * 3 - 50, "float32": np.sin(i) * 1000, "float64": np.cos(i) * 1e5}
for dt, v in vals.items():
    save(f"dt_{dt}", nib.Nifti1Image(v.astype(dt), ras, dtype=dt))
for name, aff in [("ras", ras), ("lps", lps), ("oblique", obl), ("permuted", perm)]:
    save(f"orient_{name}", nib.Nifti1Image((i * 3).astype(np.int16), aff))
img = nib.Nifti1Image(i.astype(np.float32), obl); img.set_qform(None, code=0); img.set_sform(obl, code=2); save("sform_only", img)
img = nib.Nifti1Image(i.astype(np.float32), lps); img.set_sform(None, code=0); img.set_qform(lps, code=1); save("qform_only", img)
img = nib.Nifti1Image(i.astype(np.float32), lps); img.set_sform(None, code=0); img.set_qform(None, code=0); save("no_transform", img)
img = nib.Nifti1Image((i * 7 - 100).astype(np.int16), ras); img.header.set_slope_inter(0.25, -1024); save("scl_slope", img)
save("nifti2", nib.Nifti2Image((i * 5 - 60).astype(np.int16), obl))
save("uncompressed_nii", nib.Nifti1Image(i.astype(np.uint8), lps))
four = np.stack([i, i * 2, i * 3], axis=-1).astype(np.int16)
save("four_d", nib.Nifti1Image(four, lps))
print(json.dumps(cases))
`;

let cases: Case[] = [];
const byName = (n: string): Case => {
  const c = cases.find((x) => x.name === n);
  if (!c) throw new Error(`no case ${n}`);
  return c;
};

describe.skipIf(!HAS_NIBABEL)('reading files nibabel wrote', () => {
  beforeAll(() => {
    cases = JSON.parse(runPython(WRITER, [tmp])) as Case[];
  });

  it('covers every datatype, orientation and transform variant', () => {
    expect(cases.length).toBe(20);
  });

  it.each(['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float32', 'float64'])('datatype %s: voxels and affine equal nibabel', async (dt) => {
    const c = byName(`dt_${dt}`);
    const { volume, geometry } = await readNifti(c.file);
    expect(geometry.datatype).toBe(dt);
    expect(volume.shape).toEqual([c.shape[2], c.shape[1], c.shape[0]]);
    expect(Array.from(volume.data)).toEqual(c.data.map((v) => Math.fround(v)));
    expect(affineMaxDiff(geometry.affine, c.affine)).toBeLessThan(1e-6);
  });

  it.each(['orient_ras', 'orient_lps', 'orient_oblique', 'orient_permuted', 'sform_only', 'qform_only', 'no_transform', 'scl_slope', 'nifti2', 'uncompressed_nii'])(
    '%s: affine, orientation code, voxels and canonical order equal nibabel',
    async (name) => {
      const c = byName(name);
      const { volume, geometry } = await readNifti(c.file);
      expect(affineMaxDiff(geometry.affine, c.affine)).toBeLessThan(1e-5);
      expect(geometry.orientationCode).toBe(c.axcodes);
      expect(Array.from(volume.data)).toEqual(c.data.map((v) => Math.fround(v)));
      const canon = await readNifti(c.file, { orientation: 'ras' });
      expect(Array.from(canon.volume.data)).toEqual(c.canonical.map((v) => Math.fround(v)));
      expect(affineMaxDiff(canon.affine, c.canonicalAffine)).toBeLessThan(1e-5);
      const header = await readNiftiHeader(c.file);
      expect(affineMaxDiff(header.affine, c.affine)).toBeLessThan(1e-5);
    },
  );

  it('knows which transform it used, and the NIfTI version', async () => {
    expect((await readNiftiHeader(byName('sform_only').file)).affineSource).toBe('sform');
    expect((await readNiftiHeader(byName('qform_only').file)).affineSource).toBe('qform');
    expect((await readNiftiHeader(byName('no_transform').file)).affineSource).toBe('pixdim');
    expect((await readNiftiHeader(byName('nifti2').file)).version).toBe(2);
    expect(byName('orient_lps').axcodes).toBe('LPS');
    expect(byName('orient_ras').axcodes).toBe('RAS');
  });

  it('4-D: refuses by default, reads one volume or all of them', async () => {
    const c = byName('four_d');
    await expect(readNifti(c.file)).rejects.toThrow(/3 volumes/);
    const one = await readNifti(c.file, { frame: 1 });
    expect(one.geometry.frames).toBe(3);
    expect(one.geometry.dims).toEqual([5, 4, 3, 3]);
    expect(Array.from(one.volume.data)).toEqual(c.data.map((v) => v * 2));
    const all = await readNifti(c.file, { frame: 'all' });
    expect(all.volume.data.length).toBe(3 * 60);
    expect(Array.from(all.volume.data.subarray(120))).toEqual(c.data.map((v) => v * 3));
  });
});

describe.skipIf(!HAS_NIBABEL)('nibabel reading files we write like an input', () => {
  beforeAll(() => {
    if (cases.length === 0) cases = JSON.parse(runPython(WRITER, [tmp])) as Case[];
  });

  it.each(['orient_lps', 'orient_oblique', 'orient_permuted', 'sform_only', 'qform_only', 'nifti2'])(
    '%s: a result written from RAS order has the input geometry, header fields and voxels',
    async (name) => {
      const c = byName(name);
      const src = await readNifti(c.file, { orientation: 'ras' });
      // a "prediction": a label map computed in the internal order
      const pred = Uint8Array.from(src.volume.data, (v) => Math.abs(Math.round(v)) % 4);
      const out = join(tmp, `pred_${name}.nii.gz`);
      await writeNiftiLike(out, pred, src.geometry, { datatype: 'uint8', orientation: 'ras' });
      const r = JSON.parse(
        runPython(
          `import sys, json, nibabel as nib, numpy as np
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
d = np.asanyarray(b.dataobj)
print(json.dumps({"affine": b.affine.tolist(), "ref": a.affine.tolist(), "dtype": str(d.dtype), "shape": list(b.shape),
  "codes": [int(b.header["qform_code"]), int(b.header["sform_code"])], "refcodes": [int(a.header["qform_code"]), int(a.header["sform_code"])],
  "zooms": [float(z) for z in b.header.get_zooms()], "refzooms": [float(z) for z in a.header.get_zooms()[:3]],
  "units": b.header.get_xyzt_units(), "refunits": a.header.get_xyzt_units(),
  "data": d.transpose(2, 1, 0).ravel().tolist(), "src": np.abs(np.round(a.get_fdata())).astype(int).transpose(2, 1, 0).ravel().tolist()}))`,
          [c.file, out],
        ),
      ) as Record<string, unknown> & { affine: Affine; ref: Affine; data: number[]; src: number[] };
      expect(affineMaxDiff(r.affine, r.ref)).toBeLessThan(1e-5);
      expect(r.dtype).toBe('uint8');
      expect(r.shape).toEqual(c.shape.slice(0, 3));
      expect(r.codes).toEqual(r.refcodes);
      // a NIfTI-2 reference (float64 fields) becomes NIfTI-1 (float32 fields)
      (r.zooms as number[]).forEach((z, k) => expect(z).toBeCloseTo((r.refzooms as number[])[k], 6));
      expect(r.units).toEqual(r.refunits);
      expect(r.data).toEqual(r.src.map((v) => v % 4));
      // and we read it back in the stored order like the source
      const back = await readNiftiLabel(out);
      expect(affineMaxDiff(back.geometry.affine, src.geometry.affine)).toBeLessThan(1e-5);
      expect(back.geometry.orientationCode).toBe(src.geometry.orientationCode);
    },
  );
});
if (!HAS_NIBABEL) it.skip(`nibabel cross-checks: ${NIBABEL_SKIP_REASON}`, () => {});
