import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec, Vec3 } from '../graph/types.js';
import { multiTalentLoss } from './loss/multitalent.js';
import { Prng } from './rng.js';
import { createNetwork } from './model/registry.js';
import { benchArchitecture } from './train/measure-step.js';

/**
 * Checks a backend against the cpu backend (whose native kernels are themselves tested against
 * tfjs's reference kernels): every conv3d kernel on shapes that cover odd sizes, strides 1 and 2,
 * kernels 1 and 3 and asymmetric padding, and a U-Net training step's loss and every gradient
 * (the optimiser update is covered by the tests' multi-step comparisons).
 * This is how a GPU path proves its results equal the CPU's (`mtc bench verify --backend webgpu`).
 */

export interface VerifyCase {
  name: string;
  /** Largest |got - want| over the tensor, divided by the largest |want| (scale-free). */
  error: number;
  tolerance: number;
  ok: boolean;
  /** Extra figures (e.g. the two losses). */
  detail?: Record<string, number>;
}

export interface ConvCase {
  x: [number, number, number, number, number];
  filters: number;
  kernel: Vec3;
  stride: Vec3;
  pad: 'same' | 'valid';
}

/** Shapes every GPU conv kernel must get right; small enough for a software adapter. */
export const CONV_CASES: readonly ConvCase[] = [
  { x: [1, 5, 7, 6, 3], filters: 5, kernel: [3, 3, 3], stride: [1, 1, 1], pad: 'same' },
  { x: [2, 8, 8, 8, 4], filters: 6, kernel: [3, 3, 3], stride: [2, 2, 2], pad: 'same' },
  { x: [1, 7, 9, 5, 1], filters: 8, kernel: [3, 3, 3], stride: [1, 2, 2], pad: 'same' },
  { x: [2, 6, 5, 7, 5], filters: 3, kernel: [1, 1, 1], stride: [1, 1, 1], pad: 'valid' },
  { x: [1, 9, 6, 6, 2], filters: 4, kernel: [1, 3, 3], stride: [1, 1, 1], pad: 'valid' },
  { x: [1, 4, 4, 4, 33], filters: 17, kernel: [3, 3, 3], stride: [1, 1, 1], pad: 'same' },
  // tfjs pads a strided 1x1x1 'same' conv by -1 (the residual skip uses 'valid'; this checks the edge)
  { x: [1, 6, 6, 6, 3], filters: 4, kernel: [1, 1, 1], stride: [2, 2, 2], pad: 'same' },
  { x: [2, 6, 8, 8, 4], filters: 8, kernel: [1, 1, 1], stride: [1, 2, 2], pad: 'valid' },
];

/** Network-sized cases for a real GPU (`--large`): nnU-Net's first and deepest stages. */
export const LARGE_CONV_CASES: readonly ConvCase[] = [
  { x: [2, 32, 64, 64, 32], filters: 32, kernel: [3, 3, 3], stride: [1, 1, 1], pad: 'same' },
  { x: [2, 32, 64, 64, 32], filters: 64, kernel: [3, 3, 3], stride: [2, 2, 2], pad: 'same' },
  { x: [2, 4, 8, 8, 320], filters: 320, kernel: [3, 3, 3], stride: [1, 1, 1], pad: 'same' },
];

export interface StepCase {
  /** 'unet' (default) or 'resenc_unet' (with MultiTalent's released plan's blocks per stage). */
  arch?: 'unet' | 'resenc_unet';
  patch: Vec3;
  features: number[];
  batch: number;
  heads: number;
}

function uniform(n: number, seed: number): Float32Array {
  const rng = new Prng(seed);
  return new Float32Array(n).map(() => rng.next() * 2 - 1);
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max|got - want| / max|want| (0 when both are all zero). */
export function scaledError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (Number.isNaN(d)) return Number.NaN; // a NaN anywhere is a failure, never averaged away
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  const v = await t.data();
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/** Forward, input gradient and filter gradient of one convolution on the active backend. */
async function convOutputs(c: ConvCase, xv: Float32Array, wv: Float32Array, dyv: Float32Array, dyShape: [number, number, number, number, number]): Promise<Float32Array[]> {
  const x = tf.tensor5d(xv, c.x);
  const filterShape: [number, number, number, number, number] = [...c.kernel, c.x[4], c.filters];
  const w = tf.tensor5d(wv, filterShape);
  const dy = tf.tensor(dyv, dyShape) as tf.Tensor5D;
  const engine = tf.engine();
  const outs = [
    engine.runKernel('Conv3D', { x, filter: w }, { strides: c.stride, pad: c.pad, dataFormat: 'NDHWC', dilations: 1 }),
    engine.runKernel('Conv3DBackpropInputV2', { dy, filter: w }, { strides: c.stride, pad: c.pad, inputShape: c.x }),
    engine.runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides: c.stride, pad: c.pad, filterShape }),
  ] as tf.Tensor[];
  try {
    return await Promise.all(outs.map(values));
  } finally {
    tf.dispose([x, w, dy, ...outs]);
  }
}

async function onBackend<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (tf.getBackend() !== name) await tf.setBackend(name);
  return fn();
}

export async function verifyConv(backend: string, c: ConvCase, tolerance: number): Promise<VerifyCase[]> {
  const filterShape = [...c.kernel, c.x[4], c.filters];
  const info = tf.backend_util.computeConv3DInfo(c.x, filterShape as [number, number, number, number, number], c.stride, 1, c.pad);
  const xv = uniform(size(c.x), 1);
  const wv = uniform(size(filterShape), 2);
  const dyv = uniform(size(info.outShape), 3);
  const want = await onBackend('cpu', () => convOutputs(c, xv, wv, dyv, info.outShape));
  const got = await onBackend(backend, () => convOutputs(c, xv, wv, dyv, info.outShape));
  const label = `[${c.x.join(',')}]->${c.filters} k${c.kernel.join('x')} s${c.stride.join('x')} ${c.pad}`;
  return ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'].map((k, i) => {
    const error = scaledError(got[i], want[i]);
    return { name: `${k} ${label}`, error, tolerance, ok: error <= tolerance };
  });
}

interface StepOutputs {
  loss: number;
  grads: Float32Array[];
}

/** Loss and gradients of every parameter for one batch, on the active backend. */
async function stepOutputs(s: StepCase): Promise<StepOutputs> {
  const arch: ArchitectureSpec = { ...benchArchitecture({ arch: s.arch, patch: s.patch, features: s.features }), name: 'verify' };
  const heads: HeadSpec[] = Array.from({ length: s.heads }, (_, i) => ({ dataset: `d${i % 3}`, name: `c${i}`, labels: [1] }));
  const model = createNetwork(arch, heads, 11);
  const rng = new Prng(5);
  const [z, y, x] = s.patch;
  const vox = z * y * x;
  const image = tf.tensor5d(new Float32Array(s.batch * vox).map(() => rng.normal()), [s.batch, z, y, x, 1]);
  const targets = tf.tensor5d(new Float32Array(s.batch * vox * s.heads).map(() => (rng.next() < 0.2 ? 1 : 0)), [s.batch, z, y, x, s.heads]);
  const mask = tf.tensor2d(
    new Float32Array(s.batch * s.heads).map((_, i) => ((i % s.heads) % 3 === Math.floor(i / s.heads) % 3 ? 1 : 0)),
    [s.batch, s.heads],
  );
  const vars = model.variables();
  try {
    const { value, grads } = tf.variableGrads(() => multiTalentLoss(model.apply(image), targets, mask), vars);
    try {
      return { loss: (await values(value))[0], grads: await Promise.all(vars.map((v) => values(grads[v.name]))) };
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
  } finally {
    tf.dispose([image, targets, mask]);
    model.dispose();
  }
}

export async function verifyStep(backend: string, s: StepCase, tolerance: number): Promise<VerifyCase[]> {
  const want = await onBackend('cpu', () => stepOutputs(s));
  const got = await onBackend(backend, () => stepOutputs(s));
  const label = `step ${s.arch ?? 'unet'} patch ${s.patch.join('x')} batch ${s.batch} features [${s.features.join(',')}] heads ${s.heads}`;
  const lossError = Math.abs(got.loss - want.loss) / Math.max(Math.abs(want.loss), 1e-12);
  const flat = (gs: Float32Array[]): Float32Array => {
    const out = new Float32Array(gs.reduce((n, g) => n + g.length, 0));
    let o = 0;
    for (const g of gs) {
      out.set(g, o);
      o += g.length;
    }
    return out;
  };
  // Per-parameter errors, worst reported, so that a gradient wrong in one small tensor shows. Each is
  // relative to that parameter's largest gradient, floored at 1e-3 of the largest gradient overall:
  // the biases of convolutions followed by InstanceNorm have a true gradient of 0, and both
  // backends return rounding noise for them.
  const globalMax = want.grads.reduce((m, g) => g.reduce((a, v) => Math.max(a, Math.abs(v)), m), 0);
  let gradError = 0;
  want.grads.forEach((w, i) => {
    let diff = 0;
    let scale = 1e-3 * globalMax;
    for (let k = 0; k < w.length; k++) {
      const d = Math.abs(got.grads[i][k] - w[k]);
      diff = Number.isNaN(d) || Number.isNaN(diff) ? Number.NaN : Math.max(diff, d);
      scale = Math.max(scale, Math.abs(w[k]));
    }
    const e = scale === 0 ? diff : diff / scale;
    gradError = Number.isNaN(e) || Number.isNaN(gradError) ? Number.NaN : Math.max(gradError, e);
  });
  const allError = scaledError(flat(got.grads), flat(want.grads));
  return [
    { name: `${label}: loss`, error: lossError, tolerance, ok: lossError <= tolerance, detail: { loss: got.loss, cpuLoss: want.loss } },
    { name: `${label}: gradients (worst parameter)`, error: gradError, tolerance: tolerance * 10, ok: gradError <= tolerance * 10, detail: { all: allError } },
  ];
}
