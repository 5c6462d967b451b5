import { afterEach, describe, expect, it } from 'vitest';
import {
  lossGrad,
  lossStats,
  nativeHostKernels,
  normActBackward,
  normActForward,
  setHostKernels,
} from '../../../src/runtime/kernels/host_ops.js';
import { loadNativeConv3d } from '../../../src/runtime/kernels/native_addon.js';
import { Prng } from '../../../src/runtime/rng.js';

const load = loadNativeConv3d();
const skipReason = load.addon ? (load.addon.normActForward ? undefined : 'the addon lacks the element-wise kernels (rebuild it)') : load.reason;
if (skipReason) console.warn(`native element-wise kernel comparisons skipped: ${skipReason}. Build with \`node scripts/build-native.mjs\`.`);

afterEach(() => setHostKernels('auto'));

function randn(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const rng = new Prng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale + shift);
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** Runs fn with the JavaScript kernels, then with the native ones. */
function both<T>(fn: () => T): { js: T; native: T } {
  setHostKernels('js');
  expect(nativeHostKernels()).toBe(false);
  const js = fn();
  setHostKernels('auto');
  expect(nativeHostKernels()).toBe(true);
  return { js, native: fn() };
}

// Channel counts: vectorised (multiples of 8) and scalar paths; voxel counts: one and several chunks.
const shapes = [
  { B: 2, N: 4096 * 3 + 5, C: 16 },
  { B: 1, N: 37, C: 5 },
  { B: 3, N: 300, C: 8 },
  { B: 2, N: 9000, C: 24 },
];

describe.skipIf(skipReason !== undefined)(`native element-wise kernels equal the JavaScript ones${skipReason ? ` [SKIPPED: ${skipReason}]` : ''}`, () => {
  for (const d of shapes) {
    const n = d.B * d.N * d.C;
    it(`bias + InstanceNorm + LeakyReLU forward and backward, [${d.B}, ${d.N}, ${d.C}]`, () => {
      const x = randn(n, 1, 3, 2);
      const scale = randn(d.C, 2, 0.3, 1);
      const offset = randn(d.C, 3, 0.5);
      const dy = randn(n, 4);
      const r = both(() => {
        const f = normActForward(x, scale, offset, d, 1e-5, 0.01);
        const g = normActBackward(x, f, dy, scale, d, 0.01);
        return { f: { y: Float32Array.from(f.y), mean: f.mean, rstd: f.rstd }, g: { ...g, dx: Float32Array.from(g.dx) } };
      });
      expect(maxRelDiff(r.native.f.y, r.js.f.y)).toBeLessThan(1e-4);
      expect(maxRelDiff(r.native.f.mean, r.js.f.mean)).toBeLessThan(1e-5);
      expect(maxRelDiff(r.native.f.rstd, r.js.f.rstd)).toBeLessThan(1e-5);
      expect(maxRelDiff(r.native.g.dx, r.js.g.dx)).toBeLessThan(1e-4);
      // Sums over up to ~10^5 float32 terms: compare relative to the sum of magnitudes.
      expect(maxRelDiff(r.native.g.dscale, r.js.g.dscale)).toBeLessThan(1e-3);
      expect(maxRelDiff(r.native.g.doffset, r.js.g.doffset)).toBeLessThan(1e-3);
      expect(maxRelDiff(r.native.g.dbias, r.js.g.dbias)).toBeLessThan(1e-3);
    });

    it(`MultiTalent loss statistics and gradient, [${d.B}, ${d.N}, ${d.C}]`, () => {
      const z = randn(n, 5, 4);
      const rng = new Prng(6);
      const g = Float32Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0));
      const coef = randn(3 * d.B * d.C, 7, 0.1);
      const r = both(() => ({ stats: lossStats(z, g, d), dz: Float32Array.from(lossGrad(z, g, coef, d)) }));
      expect(maxRelDiff(r.native.stats, r.js.stats)).toBeLessThan(1e-5);
      expect(maxRelDiff(r.native.dz, r.js.dz)).toBeLessThan(1e-5);
    });
  }
});

describe('JavaScript element-wise kernels', () => {
  it('normalise per sample and channel: mean 0, biased variance 1, then the affine and LeakyReLU', () => {
    setHostKernels('js');
    const d = { B: 2, N: 50, C: 3 };
    const x = randn(d.B * d.N * d.C, 11, 2, 5);
    const scale = Float32Array.from([1, 2, 0.5]);
    const offset = Float32Array.from([0, 1, -1]);
    const { y } = normActForward(x, scale, offset, d, 0, 0.01);
    for (let b = 0; b < d.B; b++) {
      for (let c = 0; c < d.C; c++) {
        let s = 0;
        let s2 = 0;
        for (let i = 0; i < d.N; i++) {
          const v = y[(b * d.N + i) * d.C + c];
          const pre = (v > 0 ? v : v / 0.01) - offset[c]; // undo LeakyReLU and the offset
          s += pre / scale[c];
          s2 += (pre / scale[c]) ** 2;
        }
        expect(Math.abs(s / d.N)).toBeLessThan(1e-4);
        expect(Math.abs(s2 / d.N - 1)).toBeLessThan(1e-3);
      }
    }
  });
});
