import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { clipByGlobalNorm, createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function run(spec: Parameters<typeof createOptimizer>[0], steps: number, lr: number): number[] {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const g = tf.tensor1d([0.5, 0.25]);
  const opt = createOptimizer(spec);
  for (let i = 0; i < steps; i++) opt.apply([w], [g], lr);
  const out = Array.from(w.dataSync());
  opt.dispose();
  w.dispose();
  g.dispose();
  return out;
}

for (const mode of ['on', 'off'] as const)
describe(`SGD (PyTorch semantics), host update ${mode}`, () => {
  beforeAll(() => setFusedOps(mode));
  afterAll(() => setFusedOps('auto'));
  const spec = { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01 } as const;
  it('Nesterov, two steps by hand', () => {
    // step 1: g' = g + 0.01 w = [0.51, 0.23]; buf = g'; step = g' + 0.9 buf = [0.969, 0.437]
    //         w = [1 - 0.0969, -2 - 0.0437] = [0.9031, -2.0437]
    const one = run(spec, 1, 0.1);
    expect(one[0]).toBeCloseTo(0.9031, 6);
    expect(one[1]).toBeCloseTo(-2.0437, 6);
    // step 2: g' = [0.509031, 0.229563]; buf = 0.9 [0.51, 0.23] + g' = [0.968031, 0.436563]
    //         step = g' + 0.9 buf = [1.3802589, 0.6224697]; w = [0.76507411, -2.10594697]
    const two = run(spec, 2, 0.1);
    expect(two[0]).toBeCloseTo(0.76507411, 6);
    expect(two[1]).toBeCloseTo(-2.10594697, 6);
  });
  it('plain momentum (no Nesterov): step = buf', () => {
    // step 1: buf = g' = [0.51, 0.23]; step 2: buf = 0.9 [0.51, 0.23] + [0.509949, 0.229977]
    const two = run({ ...spec, nesterov: false }, 2, 0.1);
    const w1 = [1 - 0.051, -2 - 0.023];
    const g2 = [0.5 + 0.01 * w1[0], 0.25 + 0.01 * w1[1]];
    expect(two[0]).toBeCloseTo(w1[0] - 0.1 * (0.9 * 0.51 + g2[0]), 6);
    expect(two[1]).toBeCloseTo(w1[1] - 0.1 * (0.9 * 0.23 + g2[1]), 6);
  });
});

describe('AdamW (PyTorch semantics)', () => {
  it('first step: decoupled decay then a bias-corrected step of size lr', () => {
    // w = 1 * (1 - 0.1 * 0.01) = 0.999; m_hat = g, v_hat = g^2 -> step = lr * g / (|g| + 1e-8) = 0.1
    const w = run({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 }, 1, 0.1);
    expect(w[0]).toBeCloseTo(0.999 - 0.1, 6);
    expect(w[1]).toBeCloseTo(-2 * 0.999 - 0.1, 6);
  });
});

describe('global gradient-norm clipping', () => {
  it('scales all gradients by max / (norm + 1e-6) when the norm exceeds max, else leaves them', () => {
    const a = tf.tensor1d([3]);
    const b = tf.tensor1d([4]);
    const clipped = clipByGlobalNorm([a, b], 1);
    expect(clipped.norm).toBeCloseTo(5, 5);
    expect(clipped.grads[0].dataSync()[0]).toBeCloseTo(0.6, 5);
    expect(clipped.grads[1].dataSync()[0]).toBeCloseTo(0.8, 5);
    const loose = clipByGlobalNorm([a, b], 10);
    expect(loose.grads[1].dataSync()[0]).toBeCloseTo(4, 6);
    const off = clipByGlobalNorm([a, b], 0);
    expect(off.grads[0].dataSync()[0]).toBe(3);
  });
});
