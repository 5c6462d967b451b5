import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { setHostKernels } from '../../../src/runtime/kernels/host_ops.js';
import { fusedSigmoidDiceBce } from '../../../src/runtime/loss/fused.js';
import { multiTalentSpec, nnUNetRegionSpec, sigmoidDiceBceParts, type SigmoidDiceBceSpec } from '../../../src/runtime/loss/sigmoid-dice-bce.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => {
  setHostKernels('auto');
  setFusedOps('auto');
});

/** The tfjs composition of sigmoid-dice-bce.ts: value and d/dlogits. */
function reference(z: tf.Tensor5D, g: tf.Tensor5D, m: tf.Tensor2D, spec: SigmoidDiceBceSpec = multiTalentSpec()): { value: number; grad: Float32Array } {
  setFusedOps('off');
  const { value, grads } = tf.tidy(() => {
    const r = tf.valueAndGrads((x: tf.Tensor) => sigmoidDiceBceParts(x as tf.Tensor5D, g, m, spec).loss)([z]);
    return { value: tf.keep(r.value), grads: r.grads.map((t) => tf.keep(t)) };
  });
  const out = { value: value.dataSync()[0], grad: grads[0].dataSync() as Float32Array };
  tf.dispose([value, ...grads]);
  return out;
}

function fused(z: tf.Tensor5D, g: tf.Tensor5D, m: tf.Tensor2D, spec: SigmoidDiceBceSpec = multiTalentSpec()): { value: number; grad: Float32Array } {
  const { value, grads } = tf.tidy(() => {
    const r = tf.valueAndGrads((x: tf.Tensor) => fusedSigmoidDiceBce(x as tf.Tensor5D, g, m, spec))([z]);
    return { value: tf.keep(r.value), grads: r.grads.map((t) => tf.keep(t)) };
  });
  const out = { value: value.dataSync()[0], grad: Float32Array.from(grads[0].dataSync()) };
  tf.dispose([value, ...grads]);
  return out;
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// [B, z, y, x, C]; mask rows: case b annotates classes of dataset b % 3; class C-1 belongs to no case.
const cases: { shape: [number, number, number, number, number]; seed: number }[] = [
  { shape: [3, 2, 3, 4, 5], seed: 1 },
  { shape: [2, 8, 8, 8, 8], seed: 2 },
  { shape: [4, 4, 5, 3, 9], seed: 3 },
];

const SPECS: [string, SigmoidDiceBceSpec][] = [
  ['MultiTalent, batch Dice', multiTalentSpec(true)],
  ['MultiTalent, per-case Dice', multiTalentSpec(false)],
  ['nnU-Net regions, batch Dice', nnUNetRegionSpec(true)],
  ['nnU-Net regions, sample Dice', nnUNetRegionSpec(false)],
];

describe.each(SPECS)('fused sigmoid Dice + BCE (%s) equals the tfjs composition (value and gradient)', (_, spec) => {
  for (const host of ['auto', 'js'] as const) {
    for (const c of cases) {
      it(`[${c.shape.join(', ')}], ${host === 'js' ? 'JavaScript' : 'default (native when built)'} kernels`, () => {
        setHostKernels(host);
        const [B, , , , C] = c.shape;
        const z = tf.randomNormal(c.shape, 0, 3, 'float32', c.seed) as tf.Tensor5D;
        const g = tf.cast(tf.less(tf.randomUniform(c.shape, 0, 1, 'float32', c.seed + 10), 0.3), 'float32') as tf.Tensor5D;
        const maskData = Array.from({ length: B * C }, (_, i) => {
          const b = Math.floor(i / C);
          const cls = i % C;
          return cls !== C - 1 && cls % 3 === b % 3 ? 1 : 0;
        });
        const m = tf.tensor2d(maskData, [B, C]);
        const ref = reference(z, g, m, spec);
        const got = fused(z, g, m, spec);
        expect(Math.abs(got.value - ref.value)).toBeLessThan(1e-4 * (1 + Math.abs(ref.value)));
        expect(maxAbs(got.grad, ref.grad)).toBeLessThan(1e-6);
        // Masked entries and the class no case annotates: exactly zero gradient.
        const N = z.size / (B * C);
        for (let b = 0; b < B; b++) {
          for (let cls = 0; cls < C; cls++) {
            if (maskData[b * C + cls] !== 0) continue;
            for (let i = 0; i < N; i++) expect(Object.is(got.grad[(b * N + i) * C + cls], 0)).toBe(true);
          }
        }
        tf.dispose([z, g, m]);
      });
    }
  }

  it('keeps an annotated class with empty targets and near-zero predictions finite', () => {
    const z = tf.fill([1, 2, 2, 2, 2], -40) as tf.Tensor5D;
    const g = tf.zeros([1, 2, 2, 2, 2]) as tf.Tensor5D;
    const m = tf.tensor2d([[1, 1]]);
    const ref = reference(z, g, m, spec);
    const got = fused(z, g, m, spec);
    expect(got.grad.every(Number.isFinite)).toBe(true);
    expect(Math.abs(got.value - ref.value)).toBeLessThan(1e-5);
    expect(maxAbs(got.grad, ref.grad)).toBeLessThan(1e-6);
    tf.dispose([z, g, m]);
  });
});
