import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { Prng } from '../../../../src/runtime/rng.js';
import { AugmentationPipeline } from '../../../../src/runtime/train/augment/pipeline.js';
import { elastic, smoothField } from '../../../../src/runtime/train/augment/elastic.js';
import { samplePatch, spatialMatrix, type VolumeArrays } from '../../../../src/runtime/train/augment/spatial.js';
import type { SpatialDraw } from '../../../../src/runtime/train/augment/types.js';
import { extractPatch } from '../../../../src/runtime/train/sampler.js';
import { HAS_SCIPY, runPython, SCIPY_ONLY_SKIP_REASON } from '../../data/python.js';

const dir = mkdtempSync(join(tmpdir(), 'mtc-spatial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A known volume: smooth waves plus a little noise; labels: two overlapping balls (1, 2) and a slab (5). */
function knownVolume(shape: Vec3, seed: number): VolumeArrays {
  const [Z, Y, X] = shape;
  const rng = new Prng(seed);
  const image = new Float32Array(Z * Y * X);
  const label = new Uint8Array(Z * Y * X);
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        const i = (z * Y + y) * X + x;
        image[i] = Math.sin(z / 3) + Math.cos(y / 4) * 0.5 + x / X + 0.1 * rng.normal();
        const d1 = (z - Z / 2) ** 2 + (y - Y / 2) ** 2 + (x - X / 3) ** 2;
        const d2 = (z - Z / 2) ** 2 + (y - Y / 3) ** 2 + (x - X / 2) ** 2;
        if (x > X - 5) label[i] = 5;
        if (d1 < 30) label[i] = 1;
        if (d2 < 20) label[i] = 2;
      }
  return { image, label, shape };
}

function draw(angles: Vec3, scale: number): SpatialDraw {
  return { angles, scales: [scale, scale, scale], displacement: null };
}

/**
 * scipy.ndimage.affine_transform, order 1, 'grid-constant' (out of the volume: image 0), on the
 * image and on each label's one-hot map (background's map is 1 outside); labels by arg-max, with the
 * margin between the best and the second-best weight.
 */
function scipyReference(src: VolumeArrays, matrix: number[], offset: number[], patch: Vec3): { image: Float32Array; label: Uint8Array; margin: Float32Array } {
  writeFileSync(join(dir, 'img.f32'), src.image);
  writeFileSync(join(dir, 'lab.u8'), src.label);
  writeFileSync(join(dir, 'args.json'), JSON.stringify({ shape: src.shape, matrix, offset, patch }));
  runPython(
    `
import json, sys, numpy as np
from scipy.ndimage import affine_transform
d = sys.argv[1]
a = json.load(open(d + '/args.json'))
img = np.fromfile(d + '/img.f32', dtype=np.float32).reshape(a['shape']).astype(np.float64)
lab = np.fromfile(d + '/lab.u8', dtype=np.uint8).reshape(a['shape'])
m = np.array(a['matrix'], dtype=np.float64).reshape(3, 3)
kw = dict(matrix=m, offset=a['offset'], output_shape=tuple(a['patch']), order=1, mode='grid-constant', prefilter=False)
out = affine_transform(img, cval=0.0, **kw)
labels = np.unique(np.concatenate([[0], lab.ravel()]))
w = np.stack([affine_transform((lab == u).astype(np.float64), cval=(1.0 if u == 0 else 0.0), **kw) for u in labels])
best = np.argmax(w, axis=0)
s = np.sort(w, axis=0)
out.astype(np.float32).tofile(d + '/out_img.f32')
labels[best].astype(np.uint8).tofile(d + '/out_lab.u8')
(s[-1] - s[-2]).astype(np.float32).tofile(d + '/out_margin.f32')
`,
    [dir],
  );
  const f32 = (name: string) => {
    const b = readFileSync(join(dir, name));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  return { image: f32('out_img.f32'), label: new Uint8Array(readFileSync(join(dir, 'out_lab.u8'))), margin: f32('out_margin.f32') };
}

describe('the spatial transform (rotation and scaling as one resampling of the case)', () => {
  const src = knownVolume([24, 28, 30], 3);

  it.skipIf(!HAS_SCIPY)('equals scipy.ndimage.affine_transform (order 1) on a known volume, inside and across its border', () => {
    const cases: { d: SpatialDraw; start: Vec3; patch: Vec3 }[] = [
      { d: draw([0.31, -0.22, 0.47], 1.25), start: [4, 5, 6], patch: [14, 16, 18] },
      { d: draw([-0.5, 0.1, 0.2], 0.75), start: [-6, 15, -4], patch: [16, 16, 16] }, // runs past the volume
      { d: draw([0.2, 0, 0], 1), start: [2, 3, 4], patch: [10, 12, 8] },
    ];
    for (const { d, start, patch } of cases) {
      const M = spatialMatrix(d);
      const centre = start.map((s, a) => s + (patch[a] - 1) / 2);
      const h = patch.map((p) => (p - 1) / 2);
      const offset = [0, 1, 2].map((r) => centre[r] - (M[r * 3] * h[0] + M[r * 3 + 1] * h[1] + M[r * 3 + 2] * h[2]));
      const ours = samplePatch(src, centre, d, patch);
      const ref = scipyReference(src, M, offset, patch);
      let worst = 0;
      for (let i = 0; i < ref.image.length; i++) worst = Math.max(worst, Math.abs(ours.image[i] - ref.image[i]));
      expect(worst).toBeLessThan(1e-5);
      let compared = 0;
      for (let i = 0; i < ref.label.length; i++) {
        if (ref.margin[i] < 1e-6) continue; // an exact tie: either label is right
        compared++;
        if (ours.label[i] !== ref.label[i]) expect({ i, ours: ours.label[i], scipy: ref.label[i] }).toBeNull();
      }
      expect(compared).toBeGreaterThan(0.95 * ref.label.length);
      // Zero padding outside the volume (the second case reaches out of it).
      if (start[0] < 0) expect(ours.image.some((v) => v === 0)).toBe(true);
    }
  });

  it('is the plain crop when nothing rotates or scales', () => {
    const start: Vec3 = [-2, 3, 5];
    const patch: Vec3 = [10, 12, 14];
    const centre = start.map((s, a) => s + (patch[a] - 1) / 2);
    const ours = samplePatch(src, centre, draw([0, 0, 0], 1), patch);
    const crop = extractPatch(src, start, patch);
    expect(Array.from(ours.image)).toEqual(Array.from(crop.image));
    expect(Array.from(ours.label)).toEqual(Array.from(crop.label));
  });

  it('reads the case around the patch: a shrinking zoom shows voxels from outside the patch box, not padding', () => {
    // Zoom 1.4 reads a 1.4x larger box; the patch lies well inside the volume, so no voxel is padding.
    const patch: Vec3 = [10, 10, 10];
    const start: Vec3 = [7, 9, 10];
    const centre = start.map((s, a) => s + (patch[a] - 1) / 2);
    const ours = samplePatch(src, centre, draw([0.4, 0.3, -0.5], 1.4), patch);
    expect(ours.image.every((v) => v !== 0)).toBe(true);
    const crop = extractPatch(src, start, patch);
    const minCrop = Math.min(...crop.image);
    const maxCrop = Math.max(...crop.image);
    expect(Math.min(...ours.image) < minCrop || Math.max(...ours.image) > maxCrop).toBe(true);
  });

  it('labels hold only values the case has, never a mix, over many random draws', () => {
    const profile = new AugmentationPipeline(
      {
        name: 'spatial',
        transforms: [
          { kind: 'rotation', p: 1, range: [-30, 30], axes: [0, 1, 2] },
          { kind: 'scaling', p: 1, range: [0.7, 1.4] },
          { kind: 'elastic', p: 0.5, range: [0, 3] },
          { kind: 'blur', p: 1, range: [0.5, 1] },
          { kind: 'low_resolution', p: 1, range: [0.5, 1] },
          { kind: 'mirror', p: 0.5, axes: [0, 1, 2] },
        ],
      },
      [12, 12, 12],
    );
    const allowed = new Set([0, 1, 2, 5]);
    const rng = new Prng(9);
    const seen = new Set<number>();
    for (let n = 0; n < 40; n++) {
      const { patch } = profile.sample(src, [rng.intBetween(-4, 14), rng.intBetween(-4, 18), rng.intBetween(-4, 20)], rng);
      for (const v of patch.label) {
        expect(allowed.has(v)).toBe(true);
        seen.add(v);
      }
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 5]);
  });

  it('elastic deformation: a smooth field scaled to the drawn magnitude, in-plane for anisotropic patches', () => {
    const f = smoothField([16, 16, 16], 3, 2.5, new Prng(1));
    expect(Math.max(...f.map(Math.abs))).toBeCloseTo(2.5, 5);
    // Smooth: neighbouring displacements differ far less than the field's range.
    let step = 0;
    for (let i = 1; i < f.length; i++) if (i % 16 !== 0) step = Math.max(step, Math.abs(f[i] - f[i - 1]));
    expect(step).toBeLessThan(1.5);
    const into: SpatialDraw = { angles: [0, 0, 0], scales: [1, 1, 1], displacement: null };
    elastic.draw({ kind: 'elastic', p: 1, range: [4, 4] }, into, new Prng(2), { patch: [12, 12, 12], dummy2d: false });
    expect(into.displacement!.every((d) => d !== null && d.length === 12 ** 3)).toBe(true);
    const flat: SpatialDraw = { angles: [0, 0, 0], scales: [1, 1, 1], displacement: null };
    elastic.draw({ kind: 'elastic', p: 1, range: [4, 4] }, flat, new Prng(2), { patch: [3, 16, 16], dummy2d: true });
    expect(flat.displacement![0]).toBeNull();
    expect(flat.displacement![1]!.length).toBe(256);
    const patch: Vec3 = [12, 12, 12];
    const start: Vec3 = [6, 8, 9];
    const centre = start.map((v, a) => v + (patch[a] - 1) / 2);
    const moved = samplePatch(src, centre, into, patch);
    const crop = extractPatch(src, start, patch);
    expect(moved.image).not.toEqual(crop.image);
  });

  it('rotates in-plane only for anisotropic patches (nnU-Net dummy 2D: max / z edge > 3)', () => {
    const pipeline = new AugmentationPipeline({ name: 'r', transforms: [{ kind: 'rotation', p: 1, range: [-30, 30], axes: [0, 1, 2] }, { kind: 'scaling', p: 1, range: [0.7, 1.4] }] }, [4, 16, 16]);
    expect(pipeline.context.dummy2d).toBe(true);
    expect(new AugmentationPipeline(undefined, [8, 16, 16]).context.dummy2d).toBe(false);
    // A volume that varies along z only: an in-plane rotation and scaling leave every slice constant.
    const [Z, Y, X] = [12, 30, 30];
    const image = new Float32Array(Z * Y * X);
    for (let i = 0; i < image.length; i++) image[i] = Math.floor(i / (Y * X));
    const vol: VolumeArrays = { image, label: new Uint8Array(image.length), shape: [Z, Y, X] };
    const rng = new Prng(2);
    for (let n = 0; n < 10; n++) {
      const { patch, applied } = pipeline.sample(vol, [4, 7, 7], rng);
      expect(applied).toEqual(['rotation', 'scaling']);
      for (let z = 0; z < 4; z++) {
        const slice = patch.image.subarray(z * 256, (z + 1) * 256);
        for (const v of slice) expect(v).toBeCloseTo(4 + z, 5);
      }
    }
  });
});

if (!HAS_SCIPY) it.skip(`spatial transform against scipy.ndimage.affine_transform: ${SCIPY_ONLY_SKIP_REASON}`, () => {});
