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
import { currentNativeIsa, nativeIsas, selectNativeIsa, setNativeThreads } from '../../../src/runtime/kernels/native_config.js';
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

// Channel counts: 16-lane (multiples of 16), 8-lane and scalar norm paths, loss channel patterns
// that divide 16 lanes, do not (5, 11, 24, 47: the paper's heads) or exceed the vector path (70);
// voxel counts: one and several chunks, and remainders of the 16-voxel loss groups.
const shapes = [
  { B: 2, N: 4096 * 3 + 5, C: 16 },
  { B: 1, N: 37, C: 5 },
  { B: 3, N: 300, C: 8 },
  { B: 2, N: 9000, C: 24 },
  { B: 2, N: 2000 + 7, C: 32 },
  { B: 2, N: 1500 + 3, C: 11 },
  { B: 1, N: 700, C: 47 },
  { B: 1, N: 90, C: 70 },
  { B: 2, N: 333, C: 2 },
];

const isas = skipReason === undefined ? nativeIsas() : [];
const initialIsa = skipReason === undefined ? currentNativeIsa() : undefined;
afterEach(() => {
  if (initialIsa) selectNativeIsa(initialIsa);
  if (skipReason === undefined) setNativeThreads(0);
});

/** True when every element of a and b has the same bits (-0 and NaN payloads included). */
function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const inputCache = new Map<string, Float32Array[]>();

function inputsFor(d: { B: number; N: number; C: number }, seed: number): Float32Array[] {
  const key = `${d.B},${d.N},${d.C},${seed}`;
  let v = inputCache.get(key);
  if (!v) {
    const n = d.B * d.N * d.C;
    const rng = new Prng(seed + 5);
    v = [
      randn(n, seed, 3, 2), randn(d.C, seed + 1, 0.3, 1), randn(d.C, seed + 2, 0.5), randn(n, seed + 3),
      randn(n, seed + 4, 6), Float32Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0)), randn(3 * d.B * d.C, seed + 6, 0.1),
    ];
    inputCache.set(key, v);
  }
  return v;
}

/** Every output of the four kernels on one shape, as copies. */
function allOutputs(d: { B: number; N: number; C: number }, seed: number): Float32Array[] {
  const [x, scale, offset, dy, z, t, coef] = inputsFor(d, seed);
  const f = normActForward(x, scale, offset, d, 1e-5, 0.01);
  const g = normActBackward(x, f, dy, scale, d, 0.01);
  const stats = lossStats(z, t, d);
  const dz = lossGrad(z, t, coef, d);
  return [f.y, f.mean, f.rstd, g.dx, g.dbias, g.dscale, g.doffset, Float32Array.from(stats), dz].map((a) => Float32Array.from(a));
}

describe.skipIf(skipReason !== undefined)(`native element-wise kernels equal the JavaScript ones, in every build the CPU runs${skipReason ? ` [SKIPPED: ${skipReason}]` : ''}`, () => {
  for (const d of shapes) for (const isa of isas) {
    const n = d.B * d.N * d.C;
    it(`${isa}: bias + InstanceNorm + LeakyReLU forward and backward, [${d.B}, ${d.N}, ${d.C}]`, () => {
      selectNativeIsa(isa);
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

    it(`${isa}: MultiTalent loss statistics and gradient, [${d.B}, ${d.N}, ${d.C}]`, () => {
      selectNativeIsa(isa);
      const z = randn(n, 5, 4);
      // Saturated logits: exp(-|z|) underflows; the sigmoid, its gradient and the BCE stay exact.
      for (let i = 0; i < n; i += 97) z[i] = i % 2 ? 120 : -120;
      const rng = new Prng(6);
      const g = Float32Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0));
      const coef = randn(3 * d.B * d.C, 7, 0.1);
      const r = both(() => ({ stats: lossStats(z, g, d), dz: Float32Array.from(lossGrad(z, g, coef, d)) }));
      expect(maxRelDiff(r.native.stats, r.js.stats)).toBeLessThan(1e-5);
      expect(maxRelDiff(r.native.dz, r.js.dz)).toBeLessThan(1e-5);
    });
  }
});

describe.skipIf(skipReason !== undefined)(`native element-wise kernels are reproducible${skipReason ? ` [SKIPPED: ${skipReason}]` : ''}`, () => {
  it('the avx512 and avx2 builds give bit-identical results', () => {
    if (!isas.includes('avx512') || !isas.includes('avx2')) {
      console.warn('avx512 vs avx2 bit-identity not checked: this CPU lacks one of the builds');
      return;
    }
    shapes.forEach((d, i) => {
      selectNativeIsa('avx512');
      const a = allOutputs(d, 40 + i);
      selectNativeIsa('avx2');
      const b = allOutputs(d, 40 + i);
      a.forEach((v, j) => expect(bitEqual(v, b[j]), `[${d.B}, ${d.N}, ${d.C}] output ${j}`).toBe(true));
    });
  });

  it('results are bit-identical whatever the thread count (1, 2, 3, 5 threads)', () => {
    for (const isa of isas) {
      selectNativeIsa(isa);
      shapes.forEach((d, i) => {
        setNativeThreads(1);
        const one = allOutputs(d, 40 + i);
        for (const t of [2, 3, 5]) {
          setNativeThreads(t);
          const many = allOutputs(d, 40 + i);
          one.forEach((v, j) => expect(bitEqual(v, many[j]), `${isa} [${d.B}, ${d.N}, ${d.C}] output ${j}, ${t} threads`).toBe(true));
        }
      });
    }
  });
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
