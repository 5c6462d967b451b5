import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../src/graph/types.js';
import { hd95, percentileLinear, squaredDistanceTransform, surfaceVoxels } from '../../../src/runtime/eval/hd95.js';
import { HAS_SCIPY, SCIPY_ONLY_SKIP_REASON, runPython } from '../data/python.js';

function ball(shape: Vec3, centre: Vec3, radius: Vec3): Uint8Array {
  const [nz, ny, nx] = shape;
  const m = new Uint8Array(nz * ny * nx);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const r = ((z - centre[0]) / radius[0]) ** 2 + ((y - centre[1]) / radius[1]) ** 2 + ((x - centre[2]) / radius[2]) ** 2;
        if (r <= 1) m[(z * ny + y) * nx + x] = 1;
      }
  return m;
}

function boxMask(shape: Vec3, lo: Vec3, hi: Vec3): Uint8Array {
  const [nz, ny, nx] = shape;
  const m = new Uint8Array(nz * ny * nx);
  for (let z = lo[0]; z < hi[0]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[2]; x < hi[2]; x++) m[(z * ny + y) * nx + x] = 1;
  return m;
}

describe('HD95 by hand', () => {
  it('surface voxels have a 6-neighbour outside; outside the volume counts as outside', () => {
    const s = surfaceVoxels(boxMask([3, 3, 3], [0, 0, 0], [3, 3, 3]), [3, 3, 3]);
    // a full 3x3x3 volume: every voxel but the centre touches the border
    expect(Array.from(s).reduce((a, b) => a + b, 0)).toBe(26);
    expect(s[13]).toBe(0);
  });

  it('the distance transform is exact with anisotropic spacing', () => {
    const f = new Uint8Array(5 * 1 * 7);
    f[3] = 1; // z 0, x 3
    const d = squaredDistanceTransform(f, [5, 1, 7], [2.5, 1, 0.5]);
    expect(d[3]).toBe(0);
    expect(d[(4 * 1 + 0) * 7 + 0]).toBeCloseTo((4 * 2.5) ** 2 + (3 * 0.5) ** 2, 10);
  });

  it('two single voxels: both directed distances are their distance; empties give NaN and Infinity', () => {
    const shape: Vec3 = [4, 4, 4];
    const a = new Uint8Array(64);
    const b = new Uint8Array(64);
    a[0] = 1;
    b[(3 * 4 + 2) * 4 + 1] = 1;
    expect(hd95(a, b, shape, [2, 1, 1])).toBeCloseTo(Math.hypot(6, 2, 1), 10);
    expect(hd95(new Uint8Array(64), new Uint8Array(64), shape, [1, 1, 1])).toBeNaN();
    expect(hd95(a, new Uint8Array(64), shape, [1, 1, 1])).toBe(Infinity);
    expect(hd95(new Uint8Array(64), b, shape, [1, 1, 1])).toBe(Infinity);
    expect(hd95(a, a, shape, [1, 1, 1])).toBe(0);
  });

  it('percentiles interpolate linearly between order statistics (numpy default)', () => {
    expect(percentileLinear(Float64Array.from([4, 1, 3, 2]), 95)).toBeCloseTo(3.85, 12);
    expect(percentileLinear(Float64Array.from([7]), 95)).toBe(7);
  });
});

// An independent computation in scipy: surfaces by 6-connected erosion with border_value 0,
// distance_transform_edt with the spacing, np.percentile, max of both directions.
const SCIPY_HD95 = `
import sys, json, numpy as np
from scipy import ndimage
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    shape = tuple(c['shape'])
    a = np.array(c['a'], dtype=bool).reshape(shape)
    b = np.array(c['b'], dtype=bool).reshape(shape)
    if not a.any() and not b.any():
        out.append('nan'); continue
    if not a.any() or not b.any():
        out.append('inf'); continue
    st = ndimage.generate_binary_structure(3, 1)
    sa = a & ~ndimage.binary_erosion(a, structure=st, border_value=0)
    sb = b & ~ndimage.binary_erosion(b, structure=st, border_value=0)
    da = ndimage.distance_transform_edt(~sb, sampling=c['spacing'])[sa]
    db = ndimage.distance_transform_edt(~sa, sampling=c['spacing'])[sb]
    out.append(float(max(np.percentile(da, 95), np.percentile(db, 95))))
print(json.dumps(out))
`;

describe.skipIf(!HAS_SCIPY)(`HD95 against scipy${HAS_SCIPY ? '' : ` [SKIPPED: ${SCIPY_ONLY_SKIP_REASON}]`}`, () => {
  it('matches on anisotropic spacing, empty references, missed structures and border-touching masks', async () => {
    const shape: Vec3 = [12, 20, 18];
    const cases: { name: string; a: Uint8Array; b: Uint8Array; spacing: Vec3 }[] = [
      { name: 'anisotropic overlap', a: ball(shape, [6, 10, 9], [4, 6, 5]), b: ball(shape, [5, 9, 10], [3.5, 7, 4]), spacing: [5, 0.8, 0.8] },
      { name: 'shifted, isotropic', a: ball(shape, [6, 8, 8], [3, 4, 4]), b: ball(shape, [6, 11, 9], [3, 4, 4]), spacing: [1, 1, 1] },
      { name: 'empty reference', a: ball(shape, [6, 10, 9], [3, 3, 3]), b: new Uint8Array(shape[0] * shape[1] * shape[2]), spacing: [2, 1, 1] },
      { name: 'both empty', a: new Uint8Array(shape[0] * shape[1] * shape[2]), b: new Uint8Array(shape[0] * shape[1] * shape[2]), spacing: [2, 1, 1] },
      { name: 'missed structure (two components, one predicted)', a: ball(shape, [6, 5, 5], [2, 3, 3]), b: (() => {
        const m = ball(shape, [6, 5, 5], [2, 3, 3]);
        const o = ball(shape, [6, 15, 13], [2, 2, 2]);
        for (let i = 0; i < m.length; i++) m[i] |= o[i];
        return m;
      })(), spacing: [3, 0.7, 0.9] },
      { name: 'masks touching the border', a: boxMask(shape, [0, 0, 0], [12, 7, 18]), b: boxMask(shape, [0, 2, 3], [10, 9, 18]), spacing: [1.5, 1, 1] },
      { name: 'thin sheet', a: boxMask(shape, [5, 0, 0], [6, 20, 18]), b: boxMask(shape, [6, 3, 0], [8, 20, 15]), spacing: [4, 0.5, 0.6] },
    ];
    const dir = await mkdtemp(join(tmpdir(), 'mtc-hd95-'));
    const file = join(dir, 'cases.json');
    await writeFile(file, JSON.stringify(cases.map((c) => ({ shape, a: Array.from(c.a), b: Array.from(c.b), spacing: c.spacing }))));
    const ref = JSON.parse(runPython(SCIPY_HD95, [file])) as (number | string)[];
    cases.forEach((c, i) => {
      const ours = hd95(c.a, c.b, shape, c.spacing);
      const theirs = ref[i];
      if (theirs === 'nan') expect(ours, c.name).toBeNaN();
      else if (theirs === 'inf') expect(ours, c.name).toBe(Infinity);
      else expect(ours, c.name).toBeCloseTo(theirs as number, 9);
    });
  });
});
