import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { type Affine, affineMaxDiff, affineToQuatern, qformAffine } from '../../../../src/runtime/data/nifti/affine.js';
import { MtDataError } from '../../../../src/runtime/data/errors.js';
import { encodeNifti, readNifti, readNiftiHeader, readNiftiLabel, writeNifti } from '../../../../src/runtime/data/nifti/index.js';
import { HAS_NIBABEL, NIBABEL_SKIP_REASON, runPython } from '../python.js';
import { REALCT_DIR, REALCT_SKIP_REASON } from '../../../realct.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-nifti-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const shape: Vec3 = [3, 4, 5];
const spacing: Vec3 = [2.5, 0.75, 0.8];
const n = shape[0] * shape[1] * shape[2];

/** A rotated, flipped, translated affine with the given spacing (x, y, z columns). */
function obliqueAffine(sp: Vec3): Affine {
  const t = 0.3;
  const R = [
    [Math.cos(t), -Math.sin(t), 0],
    [Math.sin(t), Math.cos(t), 0],
    [0, 0, 1],
  ];
  const s = [-sp[2], sp[1], sp[0]]; // negative x: LPS-like, determinant < 0 (qfac handling)
  return [
    [R[0][0] * s[0], R[0][1] * s[1], R[0][2] * s[2], -12.5],
    [R[1][0] * s[0], R[1][1] * s[1], R[1][2] * s[2], 40.25],
    [R[2][0] * s[0], R[2][1] * s[1], R[2][2] * s[2], -7],
    [0, 0, 0, 1],
  ];
}

function expectMtError(fn: () => Promise<unknown>, ...fragments: string[]) {
  return fn().then(
    () => {
      throw new Error('expected an MtDataError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(MtDataError);
      for (const f of fragments) expect((e as Error).message).toContain(f);
    },
  );
}

describe('NIfTI write/read round trip', () => {
  it.each(['uint8', 'int16', 'float32'] as const)('%s keeps data, spacing and affine', async (datatype) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = datatype === 'uint8' ? i % 7 : datatype === 'int16' ? i * 37 - 1000 : i * 0.25 - 3.5;
    const affine = obliqueAffine(spacing);
    const path = join(tmp, `rt_${datatype}.nii.gz`);
    await writeNifti(path, { data, shape, spacing }, { datatype, affine });
    const { volume, geometry } = await readNifti(path);
    expect(volume.shape).toEqual(shape);
    expect(Array.from(volume.data)).toEqual(Array.from(data));
    for (let a = 0; a < 3; a++) expect(volume.spacing[a]).toBeCloseTo(spacing[a], 5);
    expect(geometry.datatype).toBe(datatype);
    expect(geometry.affineSource).toBe('sform');
    expect(affineMaxDiff(geometry.affine, affine)).toBeLessThan(1e-5);
    const header = await readNiftiHeader(path);
    expect(header.shape).toEqual(shape);
    expect(affineMaxDiff(header.affine, affine)).toBeLessThan(1e-5);
  });

  it('writes the NIfTI-1 layout: 348-byte header, empty extension flag, vox_offset 352, magic n+1', async () => {
    const path = join(tmp, 'layout.nii.gz');
    await writeNifti(path, { data: new Uint8Array(n), shape, spacing }, { datatype: 'uint8' });
    const raw = gunzipSync(readFileSync(path));
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    expect(view.getInt32(0, true)).toBe(348);
    expect(view.getFloat32(108, true)).toBe(352);
    expect(raw.subarray(344, 348)).toEqual(Buffer.from('n+1\0', 'latin1'));
    expect(Array.from(raw.subarray(348, 352))).toEqual([0, 0, 0, 0]);
    expect(raw.length).toBe(352 + n);
    expect(view.getInt16(252, true)).toBe(1);
    expect(view.getInt16(254, true)).toBe(1);
  });

  it('label reader returns uint8 and rejects non-integer values', async () => {
    const path = join(tmp, 'lab.nii.gz');
    const data = new Float32Array(n).map((_, i) => i % 3);
    await writeNifti(path, { data, shape, spacing }, { datatype: 'uint8' });
    const lab = await readNiftiLabel(path);
    expect(lab.volume.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(lab.volume.data)).toEqual(Array.from(data));
    const bad = join(tmp, 'badlab.nii.gz');
    data[5] = 1.5;
    await writeNifti(bad, { data, shape, spacing }, { datatype: 'float32' });
    await expectMtError(() => readNiftiLabel(bad), bad, '1.5', 'integers 0..255');
  });

  it('refuses to write values the datatype cannot hold', async () => {
    const path = join(tmp, 'overflow.nii.gz');
    await expectMtError(
      () => writeNifti(path, { data: new Float32Array(n).fill(40000), shape, spacing }, { datatype: 'int16' }),
      path,
      'int16',
    );
    expect(existsSync(path)).toBe(false);
  });
});

/** Raw uncompressed file bytes with header fields patched. */
function patched(datatype: 'int16' | 'float32', data: ArrayLike<number>, patch: (v: DataView) => void, affine?: Affine): Uint8Array {
  const raw = encodeNifti('x', { data, shape, spacing }, { datatype, affine });
  patch(new DataView(raw.buffer, raw.byteOffset, raw.byteLength));
  return raw;
}

describe('NIfTI header interpretation', () => {
  it('applies scl_slope/scl_inter, and slope 0 means no scaling', async () => {
    const data = new Float32Array(n).map((_, i) => i);
    const scaled = join(tmp, 'scaled.nii');
    writeFileSync(scaled, patched('int16', data, (v) => { v.setFloat32(112, 2, true); v.setFloat32(116, -1024, true); }));
    const a = await readNifti(scaled);
    expect(a.volume.data[10]).toBe(10 * 2 - 1024);
    const zero = join(tmp, 'slope0.nii');
    writeFileSync(zero, patched('int16', data, (v) => { v.setFloat32(112, 0, true); v.setFloat32(116, 5, true); }));
    expect((await readNifti(zero)).volume.data[10]).toBe(10);
  });

  it('chooses the affine like nibabel: sform, else qform, else pixdim', async () => {
    const aff = obliqueAffine(spacing);
    const data = new Float32Array(n);
    const sformShifted = aff.map((r) => [...r]);
    sformShifted[0][3] += 100;
    // sform differs from qform: sform_code 1 -> sform wins
    const both = join(tmp, 'both.nii');
    writeFileSync(both, patched('float32', data, (v) => v.setFloat32(280 + 12, sformShifted[0][3], true), aff));
    const g1 = (await readNifti(both)).geometry;
    expect(g1.affineSource).toBe('sform');
    expect(g1.affine[0][3]).toBeCloseTo(sformShifted[0][3], 4);
    // sform_code 0, qform_code 1 -> qform (with qfac -1 from the flipped axis)
    const qonly = join(tmp, 'qonly.nii');
    writeFileSync(qonly, patched('float32', data, (v) => { v.setFloat32(280 + 12, sformShifted[0][3], true); v.setInt16(254, 0, true); }, aff));
    const g2 = (await readNifti(qonly)).geometry;
    expect(g2.affineSource).toBe('qform');
    expect(affineMaxDiff(g2.affine, aff)).toBeLessThan(1e-5);
    // neither -> nibabel's base affine: pixdim diagonal with x flipped, centred on the grid
    const none = join(tmp, 'none.nii');
    writeFileSync(none, patched('float32', data, (v) => { v.setInt16(252, 0, true); v.setInt16(254, 0, true); }, aff));
    const g3 = (await readNifti(none)).geometry;
    expect(g3.affineSource).toBe('pixdim');
    expect(g3.affine[0][0]).toBeCloseTo(-spacing[2], 5);
    expect(g3.affine[2][2]).toBeCloseTo(spacing[0], 5);
    expect(g3.affine[0][3]).toBeCloseTo(((shape[2] - 1) / 2) * spacing[2], 5);
    expect(g3.affine[2][3]).toBeCloseTo((-(shape[0] - 1) / 2) * spacing[0], 5);
  });

  it('quaternion decomposition round-trips rigid affines', () => {
    const aff = obliqueAffine([3, 1.5, 0.7]);
    const q = affineToQuatern(aff);
    expect(q.qfac).toBe(-1);
    expect(affineMaxDiff(qformAffine(q), aff)).toBeLessThan(1e-6);
  });

  it('reads big-endian files', async () => {
    const data = new Float32Array(n).map((_, i) => i * 3 - 50);
    const le = encodeNifti('x', { data, shape, spacing }, { datatype: 'int16' });
    const be = new Uint8Array(le.length);
    const src = new DataView(le.buffer, le.byteOffset, le.byteLength);
    const dst = new DataView(be.buffer);
    be.set(le);
    // swap every numeric header field we rely on, then the voxels
    const int32 = [0];
    const int16 = [40, 42, 44, 46, 48, 50, 52, 54, 70, 72, 252, 254];
    const f32 = [76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116, 256, 260, 264, 268, 272, 276];
    for (let o = 280; o < 328; o += 4) f32.push(o);
    for (const o of int32) dst.setInt32(o, src.getInt32(o, true), false);
    for (const o of int16) dst.setInt16(o, src.getInt16(o, true), false);
    for (const o of f32) dst.setFloat32(o, src.getFloat32(o, true), false);
    for (let i = 0; i < n; i++) dst.setInt16(352 + 2 * i, src.getInt16(352 + 2 * i, true), false);
    const path = join(tmp, 'be.nii.gz');
    writeFileSync(path, gzipSync(be));
    const { volume } = await readNifti(path);
    expect(Array.from(volume.data)).toEqual(Array.from(data));
    expect(volume.spacing[0]).toBeCloseTo(spacing[0], 5);
  });
});

describe('NIfTI errors name the file and say what to do', () => {
  const good = encodeNifti('x', { data: new Float32Array(n), shape, spacing }, { datatype: 'float32' });

  it('missing file', async () => {
    const p = join(tmp, 'nope.nii.gz');
    await expectMtError(() => readNifti(p), p, 'not found');
  });

  it('truncated gzip', async () => {
    const p = join(tmp, 'trunc.nii.gz');
    const gz = gzipSync(good);
    writeFileSync(p, gz.subarray(0, Math.floor(gz.length / 2)));
    await expectMtError(() => readNifti(p), p, 'truncated or corrupt');
  });

  it('bad magic', async () => {
    const p = join(tmp, 'magic.nii');
    const bytes = Uint8Array.from(good);
    bytes[344] = 'x'.charCodeAt(0);
    writeFileSync(p, bytes);
    await expectMtError(() => readNifti(p), p, 'not a NIfTI-1 file', 'magic');
  });

  it('dims larger than the data', async () => {
    const p = join(tmp, 'dims.nii');
    writeFileSync(p, good.subarray(0, good.length - 8));
    await expectMtError(() => readNifti(p), p, '5x4x3', 'truncated');
  });

  it('a header claiming a 30000^3 volume over a small payload names both byte counts', async () => {
    // Removing the size check before allocation makes these fail: the .gz read reports a corrupt
    // gzip stream ("Invalid typed array length"), the .nii read an allocation failure.
    const claim = 30000 * 30000 * 30000 * 4;
    const forged = Uint8Array.from(good);
    const v = new DataView(forged.buffer);
    for (const at of [42, 44, 46]) v.setInt16(at, 30000, true);
    const held = good.length - 352;
    for (const [name, bytes] of [['huge.nii.gz', gzipSync(forged)], ['huge.nii', forged]] as const) {
      const p = join(tmp, name);
      writeFileSync(p, bytes);
      await expectMtError(() => readNifti(p), p, '30000x30000x30000', `(${claim} bytes from offset 352)`, `holds only ${held} bytes`);
      await expect(readNifti(p)).rejects.not.toThrow(/gzip|typed array/i);
    }
  });

  it('NaN and infinite voxels', async () => {
    const p = join(tmp, 'nan.nii.gz');
    const data = new Float32Array(n);
    const raw = encodeNifti(p, { data, shape, spacing }, { datatype: 'float32' });
    const v = new DataView(raw.buffer);
    v.setFloat32(352 + 4 * 7, NaN, true);
    v.setFloat32(352 + 4 * 9, Infinity, true);
    writeFileSync(p, gzipSync(raw));
    await expectMtError(() => readNifti(p), p, '2 voxel(s) are NaN or infinite', '[0,1,2]');
    const ok = await readNifti(p, { rejectNonFinite: false });
    expect(Number.isNaN(ok.volume.data[7])).toBe(true);
  });

  it('4-D files with several volumes', async () => {
    const p = join(tmp, 'fourd.nii');
    const raw = Uint8Array.from(good);
    const v = new DataView(raw.buffer);
    v.setInt16(40, 4, true);
    v.setInt16(48, 2, true);
    writeFileSync(p, raw);
    await expectMtError(() => readNifti(p), p, 'only 3-D', '_0000');
  });
});

describe.skipIf(!HAS_NIBABEL)('nibabel interoperability', () => {
  it('nibabel reads our files with identical data and affine', async () => {
    const cases = [
      { datatype: 'uint8' as const, f: (i: number) => i % 5 },
      { datatype: 'int16' as const, f: (i: number) => i * 41 - 1024 },
      { datatype: 'float32' as const, f: (i: number) => Math.sin(i) * 100 },
    ];
    for (const c of cases) {
      const data = new Float32Array(n).map((_, i) => c.f(i));
      const affine = obliqueAffine(spacing);
      const path = join(tmp, `ours_${c.datatype}.nii.gz`);
      await writeNifti(path, { data, shape, spacing }, { datatype: c.datatype, affine });
      const out = runPython(
        `import sys, json, nibabel as nib, numpy as np
img = nib.load(sys.argv[1])
d = np.asanyarray(img.dataobj)
print(json.dumps({"shape": list(img.shape), "dtype": str(d.dtype), "zooms": [float(z) for z in img.header.get_zooms()],
  "affine": img.affine.tolist(), "qform": img.get_qform().tolist(), "data": d.transpose(2, 1, 0).ravel().astype(float).tolist()}))`,
        [path],
      );
      const r = JSON.parse(out) as { shape: number[]; dtype: string; zooms: number[]; affine: Affine; qform: Affine; data: number[] };
      expect(r.shape).toEqual([shape[2], shape[1], shape[0]]);
      expect(r.dtype).toBe(c.datatype);
      expect(r.zooms[0]).toBeCloseTo(spacing[2], 5);
      expect(r.zooms[2]).toBeCloseTo(spacing[0], 5);
      expect(affineMaxDiff(r.affine, affine)).toBeLessThan(1e-5);
      expect(affineMaxDiff(r.qform, affine)).toBeLessThan(1e-5);
      expect(r.data).toEqual(Array.from(data));
    }
  });

  it('we read nibabel-written files identically (int16 with scl_slope, float32, uint8)', async () => {
    const script = `import sys, json, nibabel as nib, numpy as np
out = sys.argv[1]
shape = (5, 4, 3)  # x, y, z
i = np.arange(60).reshape(3, 4, 5).transpose(2, 1, 0)  # C index over [z,y,x]
aff = np.array([[0, -0.8, 0, 10], [0.9, 0, 0, -20], [0, 0, 2.5, 5], [0, 0, 0, 1]], float)
res = {}
a = nib.Nifti1Image((i * 7 - 100).astype(np.int16), aff); a.header.set_slope_inter(0.5, -1024)
nib.save(a, out + "/nb_int16.nii.gz"); res["int16"] = ((i * 7 - 100) * 0.5 - 1024).transpose(2, 1, 0).ravel().tolist()
b = nib.Nifti1Image((np.cos(i) * 50).astype(np.float32), aff); nib.save(b, out + "/nb_float32.nii.gz")
res["float32"] = (np.cos(i) * 50).astype(np.float32).transpose(2, 1, 0).ravel().astype(float).tolist()
c = nib.Nifti1Image((i % 4).astype(np.uint8), aff); nib.save(c, out + "/nb_uint8.nii.gz")
res["uint8"] = (i % 4).transpose(2, 1, 0).ravel().tolist()
res["affine"] = nib.load(out + "/nb_int16.nii.gz").affine.tolist()
print(json.dumps(res))`;
    const r = JSON.parse(runPython(script, [tmp])) as Record<string, number[]> & { affine: Affine };
    for (const dt of ['int16', 'float32', 'uint8']) {
      const { volume, geometry } = await readNifti(join(tmp, `nb_${dt}.nii.gz`));
      expect(volume.shape).toEqual([3, 4, 5]);
      expect(Array.from(volume.data)).toEqual(r[dt].map((x) => Math.fround(x)));
      expect(affineMaxDiff(geometry.affine, r.affine)).toBeLessThan(1e-5);
      expect(volume.spacing[0]).toBeCloseTo(2.5, 5);
      expect(volume.spacing[1]).toBeCloseTo(0.8, 5);
      expect(volume.spacing[2]).toBeCloseTo(0.9, 5);
    }
  });
});
if (!HAS_NIBABEL) it.skip(`nibabel interoperability: ${NIBABEL_SKIP_REASON}`, () => {});

const REAL = join(REALCT_DIR ?? '/nonexistent', 'sub-spleen2_ct.nii.gz');
describe.skipIf(REALCT_DIR === null)('real CT fixture', () => {
  it('reads sub-spleen2_ct.nii.gz with the documented header facts', async () => {
    const { volume, geometry } = await readNifti(REAL);
    expect(volume.shape).toEqual([26, 166, 164]);
    expect(volume.spacing[0]).toBeCloseTo(5.0, 3);
    expect(volume.spacing[1]).toBeCloseTo(0.7949, 3);
    expect(volume.spacing[2]).toBeCloseTo(0.7949, 3);
    expect(geometry.datatype).toBe('float32');
    let min = Infinity;
    let max = -Infinity;
    let whole = true;
    for (const v of volume.data) {
      if (v < min) min = v;
      if (v > max) max = v;
      if (Math.round(v) !== v) whole = false;
    }
    expect(whole).toBe(true);
    expect(min).toBeGreaterThanOrEqual(-1100);
    expect(min).toBeLessThan(-500);
    expect(max).toBeGreaterThan(200);
    const seg = await readNiftiLabel(REAL.replace('_ct.nii.gz', '_ct_seg-manual.nii.gz'));
    expect(seg.volume.data.reduce((s, v) => s + (v === 1 ? 1 : 0), 0)).toBe(96672);
  });
});
if (REALCT_DIR === null) it.skip(`real CT fixture: ${REALCT_SKIP_REASON}`, () => {});
