import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../src/graph/types.js';
import { ProbabilityAccumulator, planAccumulation } from '../../../src/runtime/infer/accumulator.js';
import { gaussianImportance } from '../../../src/runtime/infer/gaussian.js';
import { cropPadding, padToTile, roundHalfEven, tilePositions, tileStarts } from '../../../src/runtime/infer/tiling.js';
import { HAS_SCIPY, SCIPY_ONLY_SKIP_REASON, runPython } from '../data/python.js';

describe('tiling', () => {
  it('rounds tile positions half to even, as np.round', () => {
    expect([0.5, 1.5, 2.5, 6.5, 19.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 6, 20, 2, 3]);
  });

  it('visits tiles z-slowest and covers the padded volume', () => {
    const pos = tilePositions([5, 20, 16], [8, 8, 8], 0.5);
    // z padded to 8 (one position), y (20-8)/4 = 3 -> 4 positions, x (16-8)/4 = 2 -> 3
    expect(pos.length).toBe(12);
    expect(pos[0]).toEqual([0, 0, 0]);
    expect(pos.at(-1)).toEqual([0, 12, 8]);
  });

  it('pads evenly (extra voxel after) and crops back exactly', () => {
    const shape: Vec3 = [3, 4, 5];
    const img = Float32Array.from({ length: 60 }, (_, i) => i + 1);
    const p = padToTile(img, shape, [6, 4, 8]);
    expect(p.shape).toEqual([6, 4, 8]);
    expect(p.offset).toEqual([1, 0, 1]);
    expect(p.data[(1 * 4 + 0) * 8 + 1]).toBe(1);
    expect(Array.from(cropPadding(p.data, p.shape, p.offset, shape))).toEqual(Array.from(img));
  });
});

describe.skipIf(!HAS_SCIPY)(`nnU-Net's tiling and Gaussian, recomputed in numpy/scipy${HAS_SCIPY ? '' : ` [SKIPPED: ${SCIPY_ONLY_SKIP_REASON}]`}`, () => {
  it('tile starts equal compute_steps_for_sliding_window', () => {
    const cases: [number, number, number][] = [[42, 16, 0.5], [200, 96, 0.5], [512, 192, 0.5], [97, 32, 0.5], [64, 32, 0.3], [33, 32, 1]];
    const py = `
import json, sys, numpy as np
out = []
for size, tile, step in json.loads(sys.argv[1]):
    n = int(np.ceil((size - tile) / (tile * step))) + 1
    actual = (size - tile) / (n - 1) if n > 1 else 99999999999
    out.append([int(np.round(actual * i)) for i in range(n)])
print(json.dumps(out))`;
    const ref = JSON.parse(runPython(py, [JSON.stringify(cases)])) as number[][];
    cases.forEach(([size, tile, step], i) => expect(tileStarts(size, tile, step)).toEqual(ref[i]));
  });

  it('the importance map equals compute_gaussian (delta at tile // 2, gaussian_filter sigma tile / 8)', () => {
    for (const tile of [[8, 8, 16], [7, 10, 9], [32, 32, 32]] as Vec3[]) {
      const py = `
import json, sys, numpy as np
from scipy.ndimage import gaussian_filter
tile = json.loads(sys.argv[1])
tmp = np.zeros(tile); tmp[tuple(i // 2 for i in tile)] = 1
g = gaussian_filter(tmp, [i / 8 for i in tile], 0, mode='constant', cval=0)
g = g / g.max(); g[g == 0] = g[g != 0].min()
print(json.dumps(g.ravel().tolist()))`;
      const ref = JSON.parse(runPython(py, [JSON.stringify(tile)])) as number[];
      const ours = gaussianImportance(tile);
      let worst = 0;
      ref.forEach((v, i) => (worst = Math.max(worst, Math.abs(ours[i] - v) / v)));
      expect(worst, `tile ${tile.join('x')}`).toBeLessThan(2e-5);
    }
  });
});

describe('accumulation under a memory budget', () => {
  it('prefers float32, then 16 bits, then groups of classes', () => {
    expect(planAccumulation(4, 1000, 1e9).precision).toBe('float32');
    const half = planAccumulation(4, 1000, 100 + 4 * 1000 * 2, 100);
    expect(half).toMatchObject({ precision: 'uint16', groups: [[0, 1, 2, 3]], accumulatorBytes: 8000 });
    const groups = planAccumulation(5, 1000, 100 + 2 * 1000 * 2, 100);
    expect(groups.groups).toEqual([[0, 1], [2, 3], [4]]);
    expect(() => planAccumulation(5, 1000, 1500, 100)).toThrow(/needs at least 2\.1 KiB/);
  });

  it('16-bit running means agree with float32 weighted sums to 1e-4', () => {
    const n = 50;
    const a = new ProbabilityAccumulator(2, n, 'float32');
    const b = new ProbabilityAccumulator(2, n, 'uint16');
    let s = 7;
    const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    for (let t = 0; t < 8; t++) {
      const probs = Float32Array.from({ length: n * 2 }, rnd);
      const weight = Float32Array.from({ length: n }, () => 0.01 + rnd());
      const rows = Int32Array.from([0]);
      a.addTile(probs, 0, weight, rows, n);
      b.addTile(probs, 0, weight, rows, n);
    }
    for (let c = 0; c < 2; c++) {
      const x = a.result(c);
      const y = b.result(c);
      for (let i = 0; i < n; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-4);
    }
    expect(b.bytes).toBe(a.bytes / 2);
  });
});
