import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { type Affine, affineMaxDiff } from '../../../../src/runtime/data/nifti/affine.js';
import {
  inverseOrientation,
  ioOrientation,
  orientationCode,
  readNifti,
  reorientArray,
  reorientedAffine,
  reorientedShape,
  writeNifti,
  writeNiftiLike,
} from '../../../../src/runtime/data/nifti/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-orient-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LPS: Affine = [
  [-0.8, 0, 0, 10],
  [0, -0.9, 0, 20],
  [0, 0, 2.5, -5],
  [0, 0, 0, 1],
];
const PERMUTED: Affine = [
  [0, 0, -2.5, 30],
  [-0.8, 0, 0, 12],
  [0, 0.9, 0, -40],
  [0, 0, 0, 1],
];

describe('orientation codes (nibabel aff2axcodes)', () => {
  it('names RAS, LPS, permuted and oblique affines', () => {
    expect(orientationCode(ioOrientation([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))).toBe('RAS');
    expect(orientationCode(ioOrientation(LPS))).toBe('LPS');
    expect(orientationCode(ioOrientation(PERMUTED))).toBe('PSL');
    const t = 0.3; // 17 degrees about z: still closest to RAS
    expect(orientationCode(ioOrientation([[Math.cos(t), -Math.sin(t), 0, 0], [Math.sin(t), Math.cos(t), 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))).toBe('RAS');
  });
});

describe('reorientation to the internal RAS order and back', () => {
  it('is exact and reversible, and moves the affine with the voxels', () => {
    const shape: Vec3 = [3, 4, 5];
    const data = Float32Array.from({ length: 60 }, (_, i) => i);
    for (const aff of [LPS, PERMUTED]) {
      const o = ioOrientation(aff);
      const canon = reorientArray(data, shape, o);
      const cshape = reorientedShape(shape, o);
      const caff = reorientedAffine(aff, shape, o);
      expect(orientationCode(ioOrientation(caff))).toBe('RAS');
      // every voxel keeps its world position: voxel v of the canonical array = the original voxel at the same world point
      const world = (A: Affine, [x, y, z]: number[]) => [0, 1, 2].map((r) => A[r][0] * x + A[r][1] * y + A[r][2] * z + A[r][3]);
      const inv = inverseOrientation(o);
      const back = reorientArray(canon, cshape, inv);
      expect(Array.from(back)).toEqual(Array.from(data));
      const k = 37;
      const [cz, cy, cx] = [Math.floor(k / (cshape[1] * cshape[2])), Math.floor(k / cshape[2]) % cshape[1], k % cshape[2]];
      const w = world(caff, [cx, cy, cz]);
      const v = canon[k];
      const [oz, oy, ox] = [Math.floor(v / 20), Math.floor(v / 5) % 4, v % 5];
      const w0 = world(aff, [ox, oy, oz]);
      for (let a = 0; a < 3; a++) expect(w[a]).toBeCloseTo(w0[a], 9);
    }
  });

  it('reading in RAS order and writing a result like the input gives back the stored order and header', async () => {
    const shape: Vec3 = [3, 4, 5];
    const data = Float32Array.from({ length: 60 }, (_, i) => i % 7);
    const path = join(tmp, 'src.nii.gz');
    await writeNifti(path, { data, shape, spacing: [2.5, 0.9, 0.8] }, { datatype: 'int16', affine: PERMUTED, description: 'scanner X' });
    const src = await readNifti(path, { orientation: 'ras' });
    expect(src.geometry.orientationCode).toBe('PSL');
    expect(src.volume.shape).toEqual(reorientedShape(shape, src.geometry.orientation));
    const out = join(tmp, 'pred.nii.gz');
    await writeNiftiLike(out, src.volume.data, src.geometry, { datatype: 'uint8', orientation: 'ras' });
    const back = await readNifti(out);
    expect(Array.from(back.volume.data)).toEqual(Array.from(data));
    expect(back.volume.shape).toEqual(shape);
    expect(affineMaxDiff(back.geometry.affine, PERMUTED)).toBeLessThan(1e-6);
    expect(back.geometry.header.description).toBe('scanner X');
    expect(back.geometry.datatype).toBe('uint8');
    await expect(writeNiftiLike(join(tmp, 'wrong.nii.gz'), new Uint8Array(5), src.geometry, { datatype: 'uint8' })).rejects.toThrow(/reference image has 3x4x5/);
  });
});
