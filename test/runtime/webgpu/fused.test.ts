// The fused ops' webgpu kernels (WGSL, src/runtime/webgpu/fused_kernels.ts) against their cpu
// kernels: each op (one named kernel with one gradient) run on both backends, values and gradients
// from the same host arrays, relative tolerance 1e-4.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUSED_KERNEL_NAMES, SOFTMAX_DICE_CE, SOFTMAX_DICE_CE_GRAD } from '../../../src/runtime/kernels/fused_names.js';
import { fusedMultiTalentLoss, sigmoidDiceBce, softmaxDiceCe } from '../../../src/runtime/loss/fused.js';
import { multiTalentSpec, nnUNetRegionSpec, type SigmoidDiceBceSpec } from '../../../src/runtime/loss/sigmoid-dice-bce.js';
import { nnUNetSoftmaxSpec } from '../../../src/runtime/loss/softmax-dice-ce.js';
import { softmaxDiceCeLoss } from '../../../src/runtime/loss/softmax-loss.js';
import { addBias, biasNormAct, concatChannels, depthToSpaceBias, residualAct, upsampleFilter } from '../../../src/runtime/model/fused.js';
import { registerWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { chunkPlan } from '../../../src/runtime/webgpu/fused_reduce.js';
import { maxRelErr, onBackend, readOn, webgpuSkipReason } from './helpers.js';

const TOL = 1e-4;
type Shape = number[];
type Vec3 = [number, number, number];

/** Deterministic normal(mean, std) samples (LCG + Box-Muller). */
function randn(n: number, seed: number, mean = 0, std = 1): Float32Array {
  let s = (seed * 2654435761) % 4294967296;
  const next = (): number => {
    s = (s * 1664525 + 1013904223) % 4294967296;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

const size = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

interface HostInput {
  shape: Shape;
  data: Float32Array;
}
const input = (shape: Shape, seed: number, mean = 0, std = 1): HostInput => ({ shape, data: randn(size(shape), seed, mean, std) });

interface Result {
  shape: Shape;
  value: Float32Array;
  grads: Float32Array[];
  gradShapes: Shape[];
}

/**
 * Value of f and gradients of sum(reshape(f, [-1]) * r) (r random, i.e. a random upstream dy) with
 * respect to the first `nDiff` inputs, on `backend`, from host arrays. Also checks that nothing
 * leaks: no tensor, and on webgpu no GPU buffer (temporaries released, saved tensors freed).
 */
function valueAndGrads(backend: 'cpu' | 'webgpu', f: (xs: tf.Tensor[]) => tf.Tensor, inputs: HostInput[], nDiff: number): Promise<Result> {
  return onBackend(backend, async () => {
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = tf.backend().numDataIds();
    const ts = inputs.map((i) => tf.tensor(i.data, i.shape, 'float32'));
    const out = tf.tidy(() => f(ts));
    const r = tf.tensor1d(randn(out.size, 99));
    // Flattened before the product: tfjs-webgpu's rank-5 broadcasting (sum's gradient) is broken.
    const loss = (...xs: tf.Tensor[]): tf.Tensor => tf.sum(tf.mul(tf.reshape(f([...xs, ...ts.slice(nDiff)]), [-1]), r));
    const grads = tf.grads(loss)(ts.slice(0, nDiff));
    const result = {
      shape: out.shape,
      value: await readOn(out),
      grads: await Promise.all(grads.map((g) => readOn(g))),
      gradShapes: grads.map((g) => g.shape),
    };
    tf.dispose([...ts, out, r, ...grads]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.backend().numDataIds()).toBe(buffersBefore);
    return result;
  });
}

async function expectSame(
  cpu: (xs: tf.Tensor[]) => tf.Tensor,
  gpu: (xs: tf.Tensor[]) => tf.Tensor,
  inputs: HostInput[],
  nDiff = inputs.length,
  gradTol: number[] = [],
): Promise<Result> {
  const want = await valueAndGrads('cpu', cpu, inputs, nDiff);
  const got = await valueAndGrads('webgpu', gpu, inputs, nDiff);
  expect(got.shape).toEqual(want.shape);
  expect(maxRelErr(got.value, want.value)).toBeLessThan(TOL);
  expect(got.gradShapes).toEqual(want.gradShapes);
  got.grads.forEach((g, i) => {
    expect(maxRelErr(g, want.grads[i]), `gradient ${i}`).toBeLessThan(gradTol[i] ?? TOL);
  });
  return got;
}

const EPS = 1e-5;
const SLOPE = 0.01;
const t5 = (t: tf.Tensor): tf.Tensor5D => t as tf.Tensor5D;
const t1 = (t: tf.Tensor): tf.Tensor1D => t as tf.Tensor1D;

function normInputs(shape: Shape, seed: number, mean = 0, std = 1): HostInput[] {
  const C = shape[4];
  return [input(shape, seed, mean, std), input([C], seed + 1, 0, 0.5), input([C], seed + 2, 1, 0.3), input([C], seed + 3, 0, 0.5)];
}

describe.skipIf(webgpuSkipReason)('webgpu fused ops equal the cpu fused ops', () => {
  beforeAll(() => registerWebGpuKernels());

  it('every fused op has a kernel on both backends (the softmax loss: cpu only, webgpu composes it)', () => {
    for (const name of FUSED_KERNEL_NAMES) {
      expect(tf.getKernel(name, 'cpu'), `${name} on cpu`).toBeDefined();
      const gpuOnly = name === SOFTMAX_DICE_CE || name === SOFTMAX_DICE_CE_GRAD;
      expect(tf.getKernel(name, 'webgpu') !== undefined, `${name} on webgpu`).toBe(!gpuOnly);
    }
  });

  it('reductions run in several chunks even for the small test shapes', () => {
    expect(chunkPlan(60).chunks).toBe(2);
    expect(chunkPlan(20480)).toEqual({ chunkRows: 64, chunks: 320 });
    expect(chunkPlan(64 * 128 * 128)).toEqual({ chunkRows: 2048, chunks: 512 });
  });

  describe('bias + InstanceNorm + LeakyReLU', () => {
    // The bias gradient is 0 in exact arithmetic (the bias cancels out of the norm); both versions
    // return rounding noise of order rstd^2 |scale sum(dz h)| ulp(mean), visible when |mean| >> std.
    const cases: [string, Shape, number, number, number[]][] = [
      ['C = 6 (scalar path)', [2, 5, 4, 3, 6], 0, 1, []],
      ['C = 8 (vec4 path)', [2, 3, 4, 4, 8], 0, 1, []],
      ['C = 40 (two channel tiles), mean 100 std 0.5', [1, 4, 4, 4, 40], 100, 0.5, [TOL, 2e-3]],
      ['N = 20480 (320 chunks)', [1, 16, 32, 40, 3], 2, 3, []],
    ];
    for (const [name, shape, mean, std, gradTol] of cases) {
      it(name, async () => {
        await expectSame(
          ([x, b, s, o]) => biasNormAct(t5(x), t1(b), t1(s), t1(o), EPS, SLOPE),
          ([x, b, s, o]) => biasNormAct(t5(x), t1(b), t1(s), t1(o), EPS, SLOPE),
          normInputs(shape, 10, mean, std),
          4,
          gradTol,
        );
      });
    }

    it('is bit-identical from run to run (value and gradients)', async () => {
      const inputs = normInputs([1, 16, 32, 40, 3], 20, 1, 2);
      const f = ([x, b, s, o]: tf.Tensor[]): tf.Tensor => biasNormAct(t5(x), t1(b), t1(s), t1(o), EPS, SLOPE);
      const a = await valueAndGrads('webgpu', f, inputs, 4);
      const b = await valueAndGrads('webgpu', f, inputs, 4);
      expect(Buffer.from(a.value.buffer).equals(Buffer.from(b.value.buffer))).toBe(true);
      a.grads.forEach((g, i) => expect(Buffer.from(g.buffer).equals(Buffer.from(b.grads[i].buffer))).toBe(true));
    });
  });

  describe('channel concatenation', () => {
    for (const [ca, cb] of [
      [6, 5],
      [8, 4],
    ]) {
      it(`${ca} + ${cb} channels`, async () => {
        await expectSame(
          ([a, b]) => concatChannels(t5(a), t5(b)),
          ([a, b]) => concatChannels(t5(a), t5(b)),
          [input([2, 5, 4, 3, ca], 30), input([2, 5, 4, 3, cb], 31)],
        );
      });
    }

    it('rejects shapes that differ outside the channel axis', async () => {
      await onBackend('webgpu', () => {
        expect(() => concatChannels(tf.zeros([1, 2, 2, 2, 3]) as tf.Tensor5D, tf.zeros([1, 2, 3, 2, 3]) as tf.Tensor5D)).toThrow(/differ/);
      });
    });
  });

  describe('LeakyReLU(a + b)', () => {
    for (const shape of [[2, 3, 4, 5, 6], [1, 4, 4, 4, 8]] as Shape[]) {
      it(`[${shape.join(', ')}]`, async () => {
        await expectSame(
          ([a, b]) => residualAct(t5(a), t5(b), SLOPE),
          ([a, b]) => residualAct(t5(a), t5(b), SLOPE),
          [input(shape, 35), input(shape, 36)],
        );
      });
    }
  });

  describe('bias add', () => {
    for (const [n, c] of [
      [60, 6],
      [200, 8],
      [5000, 3],
    ]) {
      it(`[${n}, ${c}]`, async () => {
        await expectSame(
          ([x, b]) => addBias(x as tf.Tensor2D, t1(b)),
          ([x, b]) => addBias(x as tf.Tensor2D, t1(b)),
          [input([n, c], 40), input([c], 41)],
        );
      });
    }
  });

  describe('depth-to-space + bias', () => {
    for (const [stride, c] of [
      [[2, 2, 2], 3],
      [[1, 2, 2], 4],
      [[2, 1, 3], 5],
    ] as [Vec3, number][]) {
      it(`stride ${stride.join('x')}, ${c} channels`, async () => {
        const taps = stride[0] * stride[1] * stride[2];
        await expectSame(
          ([x, b]) => depthToSpaceBias(t5(x), t1(b), stride),
          ([x, b]) => depthToSpaceBias(t5(x), t1(b), stride),
          [input([2, 2, 3, 2, taps * c], 50), input([c], 51)],
        );
      });
    }
  });

  describe('upsample filter layout', () => {
    for (const shape of [
      [2, 2, 2, 3, 4],
      [1, 2, 2, 8, 40],
      [2, 1, 3, 5, 33],
    ]) {
      it(`weight [${shape.join(', ')}]`, async () => {
        await expectSame(([w]) => upsampleFilter(t5(w)), ([w]) => upsampleFilter(t5(w)), [input(shape, 60)]);
      });
    }
  });

  describe('MultiTalent loss', () => {
    /**
     * Logits, binary targets and mask with: class 0 annotated by no case; class 1 annotated by
     * case 0 only, whose target is empty; class 2 with all-zero targets and logits -200 (Dice
     * denominator below the 1e-7 clamp: ~1e-85 in float64, exactly 0 in float32, where a missing
     * clamp gives NaN); the other classes random, case 1 not annotating class 4.
     */
    function lossInputs(shape: Shape, seed: number): HostInput[] {
      const [B, , , , C] = shape;
      const n = size(shape);
      const z = randn(n, seed, 0, 2);
      const g = randn(n, seed + 1).map((v) => (v > 0.3 ? 1 : 0));
      const m = new Float32Array(B * C).fill(1);
      for (let i = 0; i < n; i++) {
        const c = i % C;
        const b = Math.floor(i / (n / B));
        if (c === 1 && b === 0) g[i] = 0;
        if (c === 2) {
          g[i] = 0;
          z[i] = -200;
        }
      }
      for (let b = 0; b < B; b++) {
        m[b * C] = 0;
        if (b > 0) m[b * C + 1] = 0;
        if (b === 1 && C > 4) m[b * C + 4] = 0;
      }
      return [
        { shape, data: z },
        { shape, data: g },
        { shape: [B, C], data: m },
      ];
    }

    for (const [name, shape] of [
      ['C = 6 (scalar path)', [2, 5, 4, 3, 6]],
      ['C = 8 (vec4 path)', [2, 3, 4, 4, 8]],
      ['N = 20480 (320 chunks)', [2, 16, 32, 40, 5]],
    ] as [string, Shape][]) {
      it(name, async () => {
        const got = await expectSame(
          ([z, g, m]) => fusedMultiTalentLoss(t5(z), t5(g), m as tf.Tensor2D),
          ([z, g, m]) => fusedMultiTalentLoss(t5(z), t5(g), m as tf.Tensor2D),
          lossInputs(shape, 70),
          1,
        );
        // The never-annotated class gets exactly zero gradient.
        const C = shape[4];
        expect(got.grads[0].filter((_, i) => i % C === 0).every((v) => v === 0)).toBe(true);
      });
    }

    it('is bit-identical from run to run (value and gradient)', async () => {
      const f = ([z, g, m]: tf.Tensor[]): tf.Tensor => fusedMultiTalentLoss(t5(z), t5(g), m as tf.Tensor2D);
      const inputs = lossInputs([2, 16, 32, 40, 5], 75);
      const a = await valueAndGrads('webgpu', f, inputs, 1);
      const b = await valueAndGrads('webgpu', f, inputs, 1);
      expect(a.value[0]).toBe(b.value[0]);
      expect(Buffer.from(a.grads[0].buffer).equals(Buffer.from(b.grads[0].buffer))).toBe(true);
    });

    it('accepts int32 targets and mask (same value and gradient)', async () => {
      // Cast inside the op: tfjs-webgpu keeps int32 buffers even for int32 -> float32 casts.
      const cpu = ([zi, gi, mi]: tf.Tensor[]): tf.Tensor => fusedMultiTalentLoss(t5(zi), t5(gi), mi as tf.Tensor2D);
      const gpu = ([zi, gi, mi]: tf.Tensor[]): tf.Tensor =>
        fusedMultiTalentLoss(t5(zi), t5(tf.cast(tf.cast(gi, 'int32'), 'float32')), tf.cast(mi, 'int32') as tf.Tensor2D);
      await expectSame(cpu, gpu, lossInputs([2, 5, 4, 3, 6], 80), 1);
    });

    for (const [name, spec] of [
      ['per-case Dice (the authors\' code)', multiTalentSpec(false)],
      ['nnU-Net regions (dice_ce), batch Dice', nnUNetRegionSpec(true)],
      ['nnU-Net regions (dice_ce), sample Dice', nnUNetRegionSpec(false)],
    ] as [string, SigmoidDiceBceSpec][]) {
      for (const shape of [[2, 5, 4, 3, 6], [3, 3, 4, 4, 8]] as Shape[]) {
        it(`${name}, [${shape.join(', ')}]`, async () => {
          await expectSame(
            ([z, g, m]) => sigmoidDiceBce(t5(z), t5(g), m as tf.Tensor2D, spec),
            ([z, g, m]) => sigmoidDiceBce(t5(z), t5(g), m as tf.Tensor2D, spec),
            lossInputs(shape, 90),
            1,
          );
        });
      }
    }
  });

  describe("dice_ce's softmax form (the tfjs composition on webgpu, the fused kernel on cpu)", () => {
    for (const batchDice of [true, false]) {
      it(`batch_dice ${batchDice}`, async () => {
        const shape: Shape = [2, 4, 6, 5, 4];
        const [B, , , , C] = shape;
        const n = size(shape) / C;
        const labels = randn(n, 95).map((v) => (v < 0.2 ? 0 : Math.min(C - 1, 1 + Math.floor((v - 0.2) * 3))));
        const g = new Float32Array(n * C);
        labels.forEach((l, i) => (g[i * C + l] = 1));
        const spec = nnUNetSoftmaxSpec(batchDice);
        const m = new Float32Array(B * C).fill(1);
        const inputs: HostInput[] = [input(shape, 96, 0, 2), { shape, data: g }, { shape: [B, C], data: m }];
        await expectSame(
          ([z, gt]) => softmaxDiceCe(t5(z), t5(gt), spec),
          ([z, gt, mk]) => softmaxDiceCeLoss(t5(z), t5(gt), mk as tf.Tensor2D, spec),
          inputs,
          1,
        );
      });
    }
  });
});
