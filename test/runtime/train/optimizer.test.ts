import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import type { OptimizerSpec, ScheduleSpec } from '../../../src/graph/types.js';
import { clipByGlobalNorm, createOptimizer, PhaseOptimizers, phaseOptimizerSpec } from '../../../src/runtime/train/optimizer.js';
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

describe('AdamW with AMSGrad (torch.optim.AdamW(amsgrad=True))', () => {
  /** The torch update by hand in float64, for a scalar weight and a gradient sequence. */
  function byHand(gs: number[], lr: number, b1: number, b2: number, wd: number, amsgrad: boolean): number {
    let w = 1;
    let m = 0;
    let v = 0;
    let vmax = 0;
    gs.forEach((g, i) => {
      const t = i + 1;
      w *= 1 - lr * wd;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      vmax = Math.max(vmax, v);
      w -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt((amsgrad ? vmax : v) / (1 - b2 ** t)) + 1e-8);
    });
    return w;
  }

  it('uses the running maximum of the second moment, so a shrinking gradient takes smaller steps', () => {
    const gs = [1, 0.01, 0.01, 0.01, 0.01]; // beta2 0.5: v forgets the first gradient fast, vmax does not
    const result = (amsgrad: boolean): number => {
      const w = tf.variable(tf.tensor1d([1]));
      const opt = createOptimizer({ kind: 'adamw', beta1: 0.9, beta2: 0.5, weightDecay: 3e-5, amsgrad });
      for (const g of gs) tf.tidy(() => opt.apply([w], [tf.tensor1d([g])], 0.1));
      const out = w.dataSync()[0];
      opt.dispose();
      w.dispose();
      return out;
    };
    const ams = result(true);
    const plain = result(false);
    expect(ams).toBeCloseTo(byHand(gs, 0.1, 0.9, 0.5, 3e-5, true), 6);
    expect(plain).toBeCloseTo(byHand(gs, 0.1, 0.9, 0.5, 3e-5, false), 6);
    expect(ams - plain).toBeGreaterThan(0.1); // smaller steps after the large gradient
  });
});

describe('an optimiser per phase', () => {
  const sgd: OptimizerSpec = { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 };
  const adamw: OptimizerSpec = { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 3e-5, amsgrad: true };
  const schedule = (opts: (OptimizerSpec | undefined)[]): ScheduleSpec => ({
    name: 's',
    optimizer: sgd,
    epochs: opts.length,
    iterationsPerEpoch: 1,
    clipNorm: 12,
    phases: opts.map((optimizer) => ({ trains: 'all', epochs: 1, lr: { kind: 'constant', value: 0.01 }, ...(optimizer ? { optimizer } : {}) })),
  });

  it("uses the phase's optimiser, else the schedule's", () => {
    const s = schedule([adamw, undefined]);
    expect(phaseOptimizerSpec(s, 0)).toEqual(adamw);
    expect(phaseOptimizerSpec(s, 1)).toEqual(sgd);
    expect(() => phaseOptimizerSpec(s, 2)).toThrow(/no phase 3/);
  });

  it('carries the state over between equal optimisers and starts fresh (disposing the old) when it changes', () => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    const g = tf.tensor1d([0.5, 0.25]);
    const phases = new PhaseOptimizers(schedule([adamw, { ...adamw }, sgd, sgd]));
    const a = phases.forPhase(0);
    expect(a.fresh).toBe(true);
    a.optimizer.apply([w], [g], 0.01);
    const b = phases.forPhase(1);
    expect(b.fresh).toBe(false);
    expect(b.optimizer).toBe(a.optimizer); // same moments and step count
    const tensors = tf.memory().numTensors;
    const c = phases.forPhase(2);
    expect(c.fresh).toBe(true);
    expect(c.spec.kind).toBe('sgd');
    expect(tf.memory().numTensors).toBe(tensors - 3); // AdamW's m, v and vmax are gone
    expect(phases.forPhase(3).optimizer).toBe(c.optimizer);
    phases.dispose();
    tf.dispose([w, g]);
  });

  it("treats an AdamW without 'amsgrad' like amsgrad false", () => {
    const plain: OptimizerSpec = { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 };
    const phases = new PhaseOptimizers(schedule([plain, { ...plain, amsgrad: false }, { ...plain, amsgrad: true }]));
    phases.forPhase(0);
    expect(phases.forPhase(1).fresh).toBe(false);
    expect(phases.forPhase(2).fresh).toBe(true);
    phases.dispose();
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
