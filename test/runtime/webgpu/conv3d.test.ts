// The project's WGSL Conv3D kernels (src/runtime/webgpu/conv3d*.ts) against tfjs's cpu backend.
// Shapes are tiny (software Vulkan is slow) but cover odd sizes, strides 1/2/mixed, kernels
// 1/3/anisotropic, same/valid (incl. the asymmetric 'same' of stride 2 on even sizes), Cin = 1,
// channel counts not multiple of 4, batch 1 and 2, every column-tile width and the split-K paths.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeWebGpuConv3dKernels } from '../../../src/runtime/webgpu/conv3d.js';
import { filterGradSource } from '../../../src/runtime/webgpu/conv3d_backprop_filter.js';
import { inputGradSources } from '../../../src/runtime/webgpu/conv3d_backprop_input.js';
import { forwardSource } from '../../../src/runtime/webgpu/conv3d_forward.js';
import type { GemmSource } from '../../../src/runtime/webgpu/conv3d_gemm.js';
import { geometryOf } from '../../../src/runtime/webgpu/conv3d_geometry.js';
import { chooseSplitK, chooseTiles } from '../../../src/runtime/webgpu/conv3d_tiles.js';
import { replaceWebGpuKernel, unregisterWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { maxRelErr, onBackend, readOn, webgpuSkipReason } from './helpers.js';

type Shape5 = [number, number, number, number, number];
type Triple = [number, number, number];

interface Case {
  name: string;
  x: Shape5;
  f: Shape5;
  strides: number | Triple;
  pad: 'same' | 'valid';
}

const CASES: Case[] = [
  { name: 'odd 5x7x6, Cin 3 -> 5, k3 s1 same', x: [1, 5, 7, 6, 3], f: [3, 3, 3, 3, 5], strides: 1, pad: 'same' },
  { name: 'even 6^3 batch 2, 4 -> 8, k3 s2 same (asymmetric pad)', x: [2, 6, 6, 6, 4], f: [3, 3, 3, 4, 8], strides: 2, pad: 'same' },
  { name: 'Cin 1 -> 4, k3 s1 valid', x: [1, 7, 5, 6, 1], f: [3, 3, 3, 1, 4], strides: 1, pad: 'valid' },
  { name: 'k1x3x3 stride 1x2x2, 8 -> 6', x: [2, 5, 8, 7, 8], f: [1, 3, 3, 8, 6], strides: [1, 2, 2], pad: 'same' },
  { name: '1x1x1 head 12 -> 2', x: [1, 6, 7, 5, 12], f: [1, 1, 1, 12, 2], strides: 1, pad: 'valid' },
  { name: 'odd 9^3 k3 s2 valid, 4 -> 12', x: [1, 9, 9, 9, 4], f: [3, 3, 3, 4, 12], strides: 2, pad: 'valid' },
  { name: 'k1 s2 (phases without taps), 8 -> 4', x: [2, 4, 5, 4, 8], f: [1, 1, 1, 8, 4], strides: 2, pad: 'same' },
  { name: 'tiny volume, deep K (forward split-K), 12 -> 8', x: [1, 2, 3, 2, 12], f: [3, 3, 3, 12, 8], strides: 1, pad: 'same' },
  { name: 'many voxels (filter split-K), 2 -> 3', x: [2, 8, 8, 8, 2], f: [3, 3, 3, 2, 3], strides: 1, pad: 'same' },
  { name: 'wide tiles 20 -> 100', x: [1, 3, 4, 5, 20], f: [3, 3, 3, 20, 100], strides: 1, pad: 'same' },
  { name: 'wide tiles 36 -> 40, s2', x: [2, 4, 4, 5, 36], f: [3, 3, 3, 36, 40], strides: 2, pad: 'same' },
];

const TOL = 1e-4;

/** Deterministic uniform values in [-1, 1) (mulberry32). */
function randomArray(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function outShape(c: Case): Shape5 {
  return tf.backend_util.computeConv3DInfo(c.x, c.f, c.strides, 1, c.pad).outShape as Shape5;
}

interface Results {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}

/** Forward and both gradient kernels of `c` on `backend`, from the same host arrays. */
async function runCase(backend: 'cpu' | 'webgpu', c: Case, seed: number): Promise<Results> {
  const xs = randomArray(size(c.x), seed);
  const ws = randomArray(size(c.f), seed + 1);
  const dyShape = outShape(c);
  const dys = randomArray(size(dyShape), seed + 2);
  return onBackend(backend, async () => {
    const x = tf.tensor5d(xs, c.x);
    const w = tf.tensor5d(ws, c.f);
    const dy = tf.tensor5d(dys, dyShape);
    const y = tf.conv3d(x, w, c.strides, c.pad);
    const dx = tf.engine().runKernel(tf.Conv3DBackpropInputV2, { dy, filter: w }, { strides: c.strides, pad: c.pad, inputShape: c.x }) as tf.Tensor;
    const dw = tf.engine().runKernel(tf.Conv3DBackpropFilterV2, { x, dy }, { strides: c.strides, pad: c.pad, filterShape: c.f }) as tf.Tensor;
    const r = { y: await readOn(y), dx: await readOn(dx), dw: await readOn(dw) };
    tf.dispose([x, w, dy, y, dx, dw]);
    return r;
  });
}

describe.skipIf(webgpuSkipReason)('webgpu conv3d kernels', () => {
  const ours = makeWebGpuConv3dKernels();

  beforeAll(() => {
    for (const config of ours) replaceWebGpuKernel(config);
  });

  afterAll(() => {
    unregisterWebGpuKernels();
  });

  it('registers all three kernels for webgpu', () => {
    expect(ours.map((c) => c.kernelName).sort()).toEqual([tf.Conv3D, tf.Conv3DBackpropFilterV2, tf.Conv3DBackpropInputV2].sort());
    for (const c of ours) {
      expect(c.backendName).toBe('webgpu');
      expect(tf.getKernel(c.kernelName, 'webgpu')?.kernelFunc).toBe(c.kernelFunc);
    }
  });

  it('the split-K cases really split', () => {
    const splits = (src: GemmSource) => chooseSplitK(src.rows, src.cols, src.depth, chooseTiles(src.rows, src.cols, src.aLayout)).splits;
    const geometry = (c: Case) => geometryOf(tf.backend_util.computeConv3DInfo(c.x, c.f, c.strides, 1, c.pad));
    expect(splits(forwardSource(geometry(CASES[7])))).toBeGreaterThan(1);
    expect(splits(forwardSource(geometry(CASES[9])))).toBeGreaterThan(1);
    expect(splits(filterGradSource(geometry(CASES[8])))).toBeGreaterThan(1);
    expect(splits(inputGradSources(geometry(CASES[9]))[0])).toBeGreaterThan(1); // stride 1: one phase
    expect(Math.max(...inputGradSources(geometry(CASES[10])).map(splits))).toBeGreaterThan(1); // a stride-2 phase
    expect(splits(forwardSource(geometry(CASES[0])))).toBe(1);
  });

  CASES.forEach((c, i) => {
    it(`matches cpu: ${c.name}`, async () => {
      const ref = await runCase('cpu', c, 100 + 7 * i);
      const got = await runCase('webgpu', c, 100 + 7 * i);
      expect(maxRelErr(got.y, ref.y), 'forward').toBeLessThan(TOL);
      expect(maxRelErr(got.dx, ref.dx), 'input gradient').toBeLessThan(TOL);
      expect(maxRelErr(got.dw, ref.dw), 'filter gradient').toBeLessThan(TOL);
    });
  });

  it('gradients through tf.grads match cpu', async () => {
    const c: Case = { name: 'grads', x: [2, 5, 6, 4, 4], f: [3, 3, 3, 4, 6], strides: [2, 1, 2], pad: 'same' };
    const xs = randomArray(size(c.x), 7);
    const ws = randomArray(size(c.f), 8);
    const dys = randomArray(size(outShape(c)), 9);
    const run = (backend: 'cpu' | 'webgpu') =>
      onBackend(backend, async () => {
        const x = tf.tensor5d(xs, c.x);
        const w = tf.tensor5d(ws, c.f);
        const dy = tf.tensor5d(dys, outShape(c));
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, c.strides, c.pad))([x, w], dy);
        const r = [await readOn(gx), await readOn(gw)];
        tf.dispose([x, w, dy, gx, gw]);
        return r;
      });
    const [refX, refW] = await run('cpu');
    const [gotX, gotW] = await run('webgpu');
    expect(maxRelErr(gotX, refX)).toBeLessThan(TOL);
    expect(maxRelErr(gotW, refW)).toBeLessThan(TOL);
  });

  it('a dilated conv falls back to tfjs and still matches', async () => {
    const xShape: Shape5 = [1, 7, 6, 7, 3];
    const fShape: Shape5 = [3, 3, 3, 3, 5];
    const xs = randomArray(size(xShape), 11);
    const ws = randomArray(size(fShape), 12);
    const run = (backend: 'cpu' | 'webgpu') =>
      onBackend(backend, async () => {
        const x = tf.tensor5d(xs, xShape);
        const w = tf.tensor5d(ws, fShape);
        const y = tf.conv3d(x, w, 1, 'same', 'NDHWC', [2, 2, 1]);
        const v = await readOn(y);
        tf.dispose([x, w, y]);
        return v;
      });
    const ref = await run('cpu');
    const got = await run('webgpu');
    expect(got.length).toBe(ref.length);
    expect(maxRelErr(got, ref)).toBeLessThan(TOL);
  });

  it('the filter gradient is bit-identical run to run (split-K sums in a fixed order)', async () => {
    const c = CASES[8];
    const a = await runCase('webgpu', c, 31);
    const b = await runCase('webgpu', c, 31);
    expect(Buffer.from(a.dw.buffer).equals(Buffer.from(b.dw.buffer))).toBe(true);
    expect(a.dw.some((v) => v !== 0)).toBe(true);
  });
});
