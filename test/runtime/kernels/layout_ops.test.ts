import { afterEach, describe, expect, it } from 'vitest';
import { setHostKernels } from '../../../src/runtime/kernels/host_ops.js';
import {
  addBiasHost,
  addHost,
  columnSumsHost,
  concatChannelsHost,
  depthToSpaceBiasGradHost,
  depthToSpaceBiasHost,
  residualActGradHost,
  residualActHost,
  splitChannelsHost,
} from '../../../src/runtime/kernels/layout_ops.js';
import { loadNativeConv3d } from '../../../src/runtime/kernels/native_addon.js';
import { setNativeThreads } from '../../../src/runtime/kernels/native_config.js';
import { Prng } from '../../../src/runtime/rng.js';

const load = loadNativeConv3d();
const skipReason = load.addon ? (load.addon.concatChannels ? undefined : 'the addon lacks the layout kernels (rebuild it)') : load.reason;
if (skipReason) console.warn(`native layout kernel comparisons skipped: ${skipReason}. Build with \`node scripts/build-native.mjs\`.`);

afterEach(() => {
  setHostKernels('auto');
  if (!skipReason) setNativeThreads(0);
});

function randn(n: number, seed: number): Float32Array {
  const rng = new Prng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** Every layout pass on fixed inputs; the outputs as copies. */
function runAll(seed: number): Float32Array[] {
  const n = 5000;
  const [Ca, Cb] = [16, 8];
  const a = randn(n * Ca, seed);
  const b = randn(n * Cb, seed + 1);
  const cat = concatChannelsHost(a, b, n, Ca, Cb);
  const [sa, sb] = splitChannelsHost(cat, n, Ca, Cb);
  const bias = randn(Ca, seed + 2);
  const biased = addBiasHost(a, bias, n, Ca);
  const sums = columnSumsHost(a, n, Ca);
  const d = { B: 2, D: 3, H: 4, W: 5, sz: 2, sy: 1, sx: 2, C: 6 };
  const x = randn(d.B * d.D * d.H * d.W * d.sz * d.sy * d.sx * d.C, seed + 3);
  const d2s = depthToSpaceBiasHost(x, bias.subarray(0, d.C), d);
  const back = depthToSpaceBiasGradHost(d2s, d);
  const r = residualActHost(a, a.map((v) => -v / 2), 0.01);
  const rg = residualActGradHost(r, a, 0.01);
  const sum = addHost(a, a.map((v) => v * 0.37));
  return [cat, sa, sb, biased, sums, d2s, back.dx, back.dbias, r, rg, sum].map((v) => Float32Array.from(v));
}

describe('layout passes', () => {
  it('concatenate and split channels, add arrays, add a bias, sum columns, move depth to space and back (JavaScript)', () => {
    setHostKernels('js');
    const a = Float32Array.from([1, 2, 3, 4]); // [2, 2]
    const b = Float32Array.from([5, 6]); // [2, 1]
    expect(Array.from(concatChannelsHost(a, b, 2, 2, 1))).toEqual([1, 2, 5, 3, 4, 6]);
    const [sa, sb] = splitChannelsHost(Float32Array.from([1, 2, 5, 3, 4, 6]), 2, 2, 1);
    expect(Array.from(sa)).toEqual([1, 2, 3, 4]);
    expect(Array.from(sb)).toEqual([5, 6]);
    expect(Array.from(addBiasHost(a, Float32Array.from([10, 20]), 2, 2))).toEqual([11, 22, 13, 24]);
    expect(Array.from(columnSumsHost(a, 2, 2))).toEqual([4, 6]);
    // One voxel, stride [1, 1, 2], 1 channel: [x0, x1] -> two voxels along x.
    const dims = { B: 1, D: 1, H: 1, W: 1, sz: 1, sy: 1, sx: 2, C: 1 };
    expect(Array.from(depthToSpaceBiasHost(Float32Array.from([7, 8]), Float32Array.from([1]), dims))).toEqual([8, 9]);
    const g = depthToSpaceBiasGradHost(Float32Array.from([1, 2]), dims);
    expect(Array.from(g.dx)).toEqual([1, 2]);
    expect(Array.from(g.dbias)).toEqual([3]);
    expect(Array.from(residualActHost(Float32Array.from([1, -2]), Float32Array.from([1, 1]), 0.5))).toEqual([2, -0.5]);
    expect(Array.from(addHost(Float32Array.from([1, -2.5]), Float32Array.from([0.5, 1])))).toEqual([1.5, -1.5]);
  });

  it.skipIf(skipReason !== undefined)(`native passes equal the JavaScript ones${skipReason ? ` [SKIPPED: ${skipReason}]` : ''}`, () => {
    setHostKernels('js');
    const js = runAll(3);
    setHostKernels('auto');
    const native = runAll(3);
    native.forEach((v, i) => {
      // sums; LeakyReLU and its gradient, whose slope product is float32 there
      if (i === 4 || i === 7 || i === 8 || i === 9) expect(maxRel(v, js[i]), `output ${i}`).toBeLessThan(1e-6);
      else expect(bitEqual(v, js[i]), `output ${i}`).toBe(true);
    });
  });

  it.skipIf(skipReason !== undefined)(`native passes are bit-identical whatever the thread count${skipReason ? ` [SKIPPED: ${skipReason}]` : ''}`, () => {
    setNativeThreads(1);
    const one = runAll(4);
    for (const n of [2, 3, 5]) {
      setNativeThreads(n);
      runAll(4).forEach((v, i) => expect(bitEqual(v, one[i]), `output ${i}, ${n} threads`).toBe(true));
    }
  });
});
