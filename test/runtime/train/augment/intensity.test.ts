import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AugmentTransform, Vec3 } from '../../../../src/graph/types.js';
import { Prng } from '../../../../src/runtime/rng.js';
import { blur } from '../../../../src/runtime/train/augment/blur.js';
import { brightness } from '../../../../src/runtime/train/augment/brightness.js';
import { contrast } from '../../../../src/runtime/train/augment/contrast.js';
import { drawFromRange } from '../../../../src/runtime/train/augment/draw.js';
import { convolveAxis, gaussianKernel } from '../../../../src/runtime/train/augment/filters.js';
import { applyGamma, gamma, gammaInverted } from '../../../../src/runtime/train/augment/gamma.js';
import { lowResolution, resizeLinear, resizeNearest } from '../../../../src/runtime/train/augment/low_resolution.js';
import { noise } from '../../../../src/runtime/train/augment/noise.js';
import type { Patch, PatchTransformImpl } from '../../../../src/runtime/train/augment/types.js';
import { HAS_SCIPY, HAS_TORCH, runPython, SCIPY_ONLY_SKIP_REASON, TORCH_SKIP_REASON } from '../../data/python.js';

const dir = mkdtempSync(join(tmpdir(), 'mtc-intensity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHAPE: Vec3 = [12, 14, 16];

function testPatch(seed: number, shape: Vec3 = SHAPE): Patch {
  const rng = new Prng(seed);
  const n = shape[0] * shape[1] * shape[2];
  const image = new Float32Array(n);
  for (let i = 0; i < n; i++) image[i] = rng.normal() + (i % 7 === 0 ? 2 : 0);
  return { image, label: new Uint8Array(n), shape };
}

function stats(x: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    s += v;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const mean = s / x.length;
  let q = 0;
  for (const v of x) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / (x.length - 1)), min: lo, max: hi };
}

const ctx = { patch: SHAPE, dummy2d: false };
const run = (impl: PatchTransformImpl, t: AugmentTransform, p: Patch, seed = 1) => impl.apply(t, p, new Prng(seed), ctx);

function readF32(name: string): Float32Array {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

describe('parameter laws', () => {
  it("draws 'around_one' factors below and above 1 equally often, within the range", () => {
    const rng = new Prng(3);
    let below = 0;
    for (let i = 0; i < 20000; i++) {
      const f = drawFromRange('around_one', [0.5, 1.1], rng); // asymmetric: uniform would give 83 % below 1
      expect(f).toBeGreaterThanOrEqual(0.5);
      expect(f).toBeLessThanOrEqual(1.1);
      if (f < 1) below++;
    }
    expect(Math.abs(below / 20000 - 0.5)).toBeLessThan(0.015);
    // A range on one side of 1 is drawn uniformly.
    for (let i = 0; i < 100; i++) expect(drawFromRange('around_one', [1.2, 1.5], rng)).toBeGreaterThanOrEqual(1.2);
  });
});

describe('intensity transforms', () => {
  it('noise adds zero-mean Gaussian noise of the drawn standard deviation', () => {
    const p = testPatch(1, [32, 32, 32]);
    const before = p.image.slice();
    run(noise, { kind: 'noise', p: 1, range: [0.05, 0.05] }, p);
    const diff = p.image.map((v, i) => v - before[i]);
    const s = stats(diff);
    expect(Math.abs(s.mean)).toBeLessThan(0.002);
    expect(s.std).toBeCloseTo(0.05, 2);
    // Kurtosis of a Gaussian: 3.
    let k = 0;
    for (const v of diff) k += ((v - s.mean) / s.std) ** 4;
    expect(k / diff.length).toBeCloseTo(3, 0);
  });

  it('brightness multiplies every voxel by one factor', () => {
    const p = testPatch(2);
    const before = p.image.slice();
    run(brightness, { kind: 'brightness', p: 1, range: [0.75, 1.25] }, p);
    const f = p.image[5] / before[5];
    expect(f).toBeGreaterThanOrEqual(0.75);
    expect(f).toBeLessThanOrEqual(1.25);
    p.image.forEach((v, i) => expect(v).toBeCloseTo(before[i] * f, 5));
  });

  it('contrast scales about the mean and keeps the original range', () => {
    for (const [range, seed] of [[[0.75, 0.75], 1], [[1.25, 1.25], 2]] as [[number, number], number][]) {
      const p = testPatch(seed);
      const a = stats(p.image);
      run(contrast, { kind: 'contrast', p: 1, range }, p);
      const b = stats(p.image);
      expect(b.min).toBeGreaterThanOrEqual(a.min - 1e-6);
      expect(b.max).toBeLessThanOrEqual(a.max + 1e-6);
      if (range[0] < 1) {
        // Nothing is clipped when contrast drops: mean kept, spread times f.
        expect(b.mean).toBeCloseTo(a.mean, 5);
        expect(b.std).toBeCloseTo(a.std * 0.75, 5);
      } else {
        expect(b.std).toBeGreaterThan(a.std);
        expect(b.max).toBeCloseTo(a.max, 5); // the brightest voxels are clipped back to the old maximum
      }
    }
  });

  for (const [impl, kind] of [[gamma, 'gamma'], [gammaInverted, 'gamma_inverted']] as const) {
    it(`${kind} keeps the mean and standard deviation and bends the intensities`, () => {
      const p = testPatch(4);
      const a = stats(p.image);
      const before = p.image.slice();
      run(impl, { kind, p: 1, range: [1.5, 1.5] }, p);
      const b = stats(p.image);
      expect(b.mean).toBeCloseTo(a.mean, 4);
      expect(b.std).toBeCloseTo(a.std, 4);
      // Monotonic (order preserved) but not affine: the change is not a shift and scale.
      const order = Array.from(before.keys()).sort((i, j) => before[i] - before[j]);
      for (let k = 1; k < order.length; k++) expect(p.image[order[k]]).toBeGreaterThanOrEqual(p.image[order[k - 1]] - 1e-5);
      const slope = (i: number, j: number) => (p.image[j] - p.image[i]) / (before[j] - before[i]);
      const n = order.length;
      expect(Math.abs(slope(order[0], order[n >> 2]) - slope(order[(3 * n) >> 2], order[n - 1]))).toBeGreaterThan(0.05);
    });
  }

  it('gamma bends the dark end, inverted gamma the bright end', () => {
    // gamma > 1 compresses low values relative to high ones; on the inverted image it is the reverse.
    const image = Float32Array.from({ length: 101 }, (_, i) => i / 100);
    const plain = { image: image.slice(), label: new Uint8Array(101), shape: [1, 1, 101] as Vec3 };
    const inverted = { image: image.slice(), label: new Uint8Array(101), shape: [1, 1, 101] as Vec3 };
    applyGamma(plain, 2, false);
    applyGamma(inverted, 2, true);
    const gapLow = (x: Float32Array) => x[10] - x[0];
    const gapHigh = (x: Float32Array) => x[100] - x[90];
    expect(gapLow(plain.image)).toBeLessThan(gapHigh(plain.image));
    expect(gapLow(inverted.image)).toBeGreaterThan(gapHigh(inverted.image));
    const unchanged = { image: image.slice(), label: new Uint8Array(101), shape: [1, 1, 101] as Vec3 };
    applyGamma(unchanged, 1, false);
    unchanged.image.forEach((v, i) => expect(v).toBeCloseTo(image[i], 5));
  });

  it("blur's kernel follows nnU-Net v2 (odd size nearest 6 sigma + 0.5)", () => {
    expect(gaussianKernel(0.5).length).toBe(3);
    expect(gaussianKernel(1).length).toBe(7);
    expect(gaussianKernel(0.75).length).toBe(5);
    const k = gaussianKernel(1);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(k[3]).toBeGreaterThan(k[2]);
  });

  it.skipIf(!HAS_SCIPY)('blur equals scipy gaussian_filter1d (mirror edges, same kernel) axis by axis', () => {
    const p = testPatch(5);
    const sigmas = [0.6, 0.9, 1];
    writeFileSync(join(dir, 'blur_in.f32'), p.image);
    const radii = sigmas.map((s) => (gaussianKernel(s).length - 1) / 2);
    runPython(
      `
import sys, json, numpy as np
from scipy.ndimage import gaussian_filter1d
d = sys.argv[1]; a = json.loads(sys.argv[2])
x = np.fromfile(d + '/blur_in.f32', dtype=np.float32).reshape(a['shape']).astype(np.float64)
for axis, (s, r) in enumerate(zip(a['sigmas'], a['radii'])):
    x = gaussian_filter1d(x, s, axis=axis, mode='mirror', radius=r)
x.astype(np.float32).tofile(d + '/blur_out.f32')
`,
      [dir, JSON.stringify({ shape: SHAPE, sigmas, radii })],
    );
    const ref = readF32('blur_out.f32');
    let src = p.image;
    for (let a = 0; a < 3; a++) {
      const dst = new Float32Array(src.length);
      convolveAxis(src, dst, SHAPE, a, gaussianKernel(sigmas[a]));
      src = dst;
    }
    let worst = 0;
    src.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ref[i]))));
    expect(worst).toBeLessThan(1e-5);
    // Through the transform: smoother (lower variance), same mean.
    const q = testPatch(5);
    const a = stats(q.image);
    run(blur, { kind: 'blur', p: 1, range: [0.5, 1] }, q);
    expect(stats(q.image).std).toBeLessThan(a.std * 0.9);
    expect(stats(q.image).mean).toBeCloseTo(a.mean, 1);
  });

  it.skipIf(!HAS_TORCH)('low resolution equals PyTorch: nearest-exact down, trilinear up (align_corners false)', () => {
    const p = testPatch(6);
    const small: Vec3 = [7, 8, 9];
    writeFileSync(join(dir, 'lr_in.f32'), p.image);
    runPython(
      `
import sys, json, numpy as np, torch
from torch.nn.functional import interpolate
d = sys.argv[1]; a = json.loads(sys.argv[2])
x = torch.from_numpy(np.fromfile(d + '/lr_in.f32', dtype=np.float32).reshape(a['shape']))[None, None]
down = interpolate(x, a['small'], mode='nearest-exact')
up = interpolate(down, a['shape'], mode='trilinear', align_corners=False)
down[0, 0].numpy().astype(np.float32).tofile(d + '/lr_down.f32')
up[0, 0].numpy().astype(np.float32).tofile(d + '/lr_up.f32')
`,
      [dir, JSON.stringify({ shape: SHAPE, small })],
    );
    const down = resizeNearest(p.image, SHAPE, small);
    expect(Array.from(down)).toEqual(Array.from(readF32('lr_down.f32')));
    const up = resizeLinear(down, small, SHAPE);
    const ref = readF32('lr_up.f32');
    let worst = 0;
    up.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ref[i]))));
    expect(worst).toBeLessThan(1e-5);
  });

  it('low resolution keeps the shape, loses detail, and leaves z alone for anisotropic patches', () => {
    const p = testPatch(7);
    const a = stats(p.image);
    lowResolution.apply({ kind: 'low_resolution', p: 1, range: [0.5, 0.5] }, p, new Prng(1), ctx);
    expect(p.image.length).toBe(SHAPE[0] * SHAPE[1] * SHAPE[2]);
    expect(stats(p.image).std).toBeLessThan(a.std * 0.8);
    // dummy 2D: a volume constant within each slice keeps its slices exactly.
    const shape: Vec3 = [4, 16, 16];
    const image = Float32Array.from({ length: 4 * 256 }, (_, i) => Math.floor(i / 256) * 10);
    const q = { image, label: new Uint8Array(image.length), shape };
    lowResolution.apply({ kind: 'low_resolution', p: 1, range: [0.5, 0.5] }, q, new Prng(1), { patch: shape, dummy2d: true });
    q.image.forEach((v, i) => expect(v).toBeCloseTo(Math.floor(i / 256) * 10, 5));
  });

  it('never touches the label map', () => {
    for (const [impl, kind] of [[noise, 'noise'], [blur, 'blur'], [brightness, 'brightness'], [contrast, 'contrast'], [lowResolution, 'low_resolution'], [gamma, 'gamma'], [gammaInverted, 'gamma_inverted']] as const) {
      const p = testPatch(8);
      p.label.forEach((_, i) => (p.label[i] = i % 3));
      impl.apply({ kind, p: 1, range: kind === 'noise' ? [0, 0.1] : kind === 'blur' ? [0.5, 1] : kind === 'low_resolution' ? [0.5, 1] : [0.75, 1.25] }, p, new Prng(2), ctx);
      p.label.forEach((v, i) => expect(v).toBe(i % 3));
    }
  });
});

if (!HAS_SCIPY) it.skip(`blur against scipy: ${SCIPY_ONLY_SKIP_REASON}`, () => {});
if (!HAS_TORCH) it.skip(`low resolution against PyTorch: ${TORCH_SKIP_REASON}`, () => {});
