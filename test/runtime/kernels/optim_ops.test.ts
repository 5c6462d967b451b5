import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { setHostKernels } from '../../../src/runtime/kernels/host_ops.js';
import { loadNativeConv3d } from '../../../src/runtime/kernels/native_addon.js';
import { currentNativeIsa, nativeIsas, selectNativeIsa, setNativeThreads } from '../../../src/runtime/kernels/native_config.js';
import { adamwStep, scaleArrays, sgdStep, sumOfSquares } from '../../../src/runtime/kernels/optim_ops.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import { Prng } from '../../../src/runtime/rng.js';
import { clipByGlobalNorm, createOptimizer } from '../../../src/runtime/train/optimizer.js';

const load = loadNativeConv3d();
const skipReason = load.addon ? (load.addon.sgdStep ? undefined : 'the addon lacks the optimiser kernels (rebuild it)') : load.reason;
if (skipReason) console.warn(`native optimiser comparisons skipped: ${skipReason}. Build with \`node scripts/build-native.mjs\`.`);
const SKIP = skipReason ? ` [SKIPPED: ${skipReason}]` : '';
const isas = skipReason ? [] : nativeIsas();
const initialIsa = skipReason ? undefined : currentNativeIsa();

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => {
  setHostKernels('auto');
  setFusedOps('auto');
  if (initialIsa) selectNativeIsa(initialIsa);
  if (!skipReason) setNativeThreads(0);
});

function randn(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Prng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

// Tensor sizes: empty-ish, tails of the 16-lane sum, more than one 32768-element block, and a total
// above the one-thread threshold so the pool shares the blocks.
const sizes = [1, 7, 16, 33, 1000, 32768 + 5, 70000, 27 * 16 * 16];

interface Run {
  weights: Float32Array[];
  states: Float32Array[];
  norm: number;
  scaled: Float32Array[];
}

/** Three SGD steps (first, then momentum), three AdamW steps, the norm and the scaling, from fixed inputs. */
function runAll(seed: number): Run {
  const w = sizes.map((n, i) => randn(n, seed + i));
  const grads = [0, 1, 2].map((s) => sizes.map((n, i) => randn(n, seed + 100 * (s + 1) + i, 0.1)));
  // SGD, Nesterov, weight decay; a plain-momentum and a momentum-free variant on the same inputs.
  const states: Float32Array[] = [];
  let weights: Float32Array[] = [];
  for (const [momentum, nesterov] of [[0.99, true], [0.9, false], [0, false]] as const) {
    let cur = w.map((a) => Float32Array.from(a));
    const bufs = sizes.map((n) => new Float32Array(n));
    grads.forEach((g, s) => {
      cur = sgdStep(cur.map((wi, i) => ({ w: wi, g: g[i], buf: bufs[i], first: s === 0 })), { lr: 0.01, momentum, nesterov, weightDecay: 3e-5 }).map((a) => Float32Array.from(a));
    });
    weights.push(...cur);
    states.push(...bufs);
  }
  // AdamW, plain and AMSGrad, with a tensor that joins at the second step (its own step count).
  for (const amsgrad of [false, true]) {
    let cur = w.map((a) => Float32Array.from(a));
    const m = sizes.map((n) => new Float32Array(n));
    const v = sizes.map((n) => new Float32Array(n));
    const vmax = sizes.map((n) => new Float32Array(n));
    grads.forEach((g, s) => {
      const tensors = cur.map((wi, i) => ({ w: wi, g: g[i], m: m[i], v: v[i], ...(amsgrad ? { vmax: vmax[i] } : {}), t: i === 0 ? s : s + 1 }));
      cur = adamwStep(tensors.filter((t) => t.t > 0), { lr: 5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }).map((a) => Float32Array.from(a));
      if (s === 0) cur.unshift(Float32Array.from(w[0]));
    });
    weights = [...weights, ...cur];
    states.push(...m, ...v, ...(amsgrad ? vmax : []));
  }
  const norm = sumOfSquares(grads[0]);
  const scaled = scaleArrays(grads[0], 12 / (Math.sqrt(norm) + 1e-6)).map((a) => Float32Array.from(a));
  return { weights, states, norm, scaled };
}

function expectSame(a: Run, b: Run, what: string): void {
  a.weights.forEach((x, i) => expect(bitEqual(x, b.weights[i]), `${what}: weights ${i}`).toBe(true));
  a.states.forEach((x, i) => expect(bitEqual(x, b.states[i]), `${what}: optimiser state ${i}`).toBe(true));
  expect(Object.is(a.norm, b.norm), `${what}: sum of squares ${a.norm} vs ${b.norm}`).toBe(true);
  a.scaled.forEach((x, i) => expect(bitEqual(x, b.scaled[i]), `${what}: scaled gradient ${i}`).toBe(true));
}

describe(`native optimiser kernels${SKIP}`, () => {
  it.skipIf(skipReason !== undefined)('equal their JavaScript versions bit for bit, in every build the CPU runs', () => {
    setHostKernels('js');
    const js = runAll(1);
    setHostKernels('auto');
    for (const isa of isas) {
      selectNativeIsa(isa);
      expectSame(runAll(1), js, isa);
    }
  });

  it.skipIf(skipReason !== undefined)('are bit-identical whatever the thread count (1, 2, 3, 5 threads)', () => {
    setNativeThreads(1);
    const one = runAll(2);
    for (const n of [2, 3, 5]) {
      setNativeThreads(n);
      expectSame(runAll(2), one, `${n} threads`);
    }
  });

  it.skipIf(skipReason !== undefined)('reject mismatched arrays with a clear message', () => {
    const a = load.addon!;
    const f = (n: number): Float32Array => new Float32Array(n);
    expect(() => a.sgdStep!([f(3)], [f(2)], [f(3)], [f(3)], new Uint8Array(1), 0.1, 0.9, true, 0)).toThrow(/g\[0\] has 2 elements, expected 3/);
    expect(() => a.sgdStep!([f(3)], [f(3)], [f(3)], [f(3), f(1)], new Uint8Array(1), 0.1, 0.9, true, 0)).toThrow(/out has 2 arrays, expected 1/);
    expect(() => a.sumSquares!([f(2), [1, 2] as unknown as Float32Array])).toThrow(/x\[1\] must be a Float32Array/);
  });
});

describe('the JavaScript optimiser kernels', () => {
  it('compute the PyTorch updates (SGD Nesterov first step, AdamW first step)', () => {
    setHostKernels('js');
    const w = Float32Array.from([1, -2]);
    const g = Float32Array.from([0.5, 0.25]);
    const [sgd] = sgdStep([{ w, g, buf: new Float32Array(2), first: true }], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    expect(sgd[0]).toBeCloseTo(0.9031, 6);
    expect(sgd[1]).toBeCloseTo(-2.0437, 6);
    const [adam] = adamwStep([{ w, g, m: new Float32Array(2), v: new Float32Array(2), t: 1 }], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    expect(adam[0]).toBeCloseTo(0.999 - 0.1, 6);
    expect(adam[1]).toBeCloseTo(-2 * 0.999 - 0.1, 6);
    expect(sumOfSquares([Float32Array.from([3]), Float32Array.from([4])])).toBe(25);
  });
});

describe('optimisers: the host path (native kernels) and the tfjs-ops path agree', () => {
  it('the host paths keep no tensors beyond their state, and release it on dispose', () => {
    setFusedOps('on');
    const w = tf.variable(tf.tensor(randn(100, 1), [100]));
    const g = tf.tensor(randn(100, 2), [100]);
    for (const spec of [
      { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 },
      { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 },
      { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01, amsgrad: true },
    ] as const) {
      const before = tf.memory().numTensors;
      const opt = createOptimizer(spec);
      for (let s = 0; s < 3; s++) opt.apply([w], [g], 0.01);
      // SGD keeps its buffers as host arrays; AdamW its two moment variables (three with AMSGrad).
      expect(tf.memory().numTensors - before).toBe(spec.kind === 'sgd' ? 0 : 'amsgrad' in spec ? 3 : 2);
      opt.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([w, g]);
  });

  for (const spec of [
    { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 },
    { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 },
    { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01, amsgrad: true },
  ] as const) {
    it(`${spec.kind}${'amsgrad' in spec ? ' (AMSGrad)' : ''}: five steps with clipping`, () => {
      const run = (mode: 'on' | 'off'): Float32Array[] => {
        setFusedOps(mode);
        const vars = [tf.variable(tf.tensor(randn(300, 5), [300])), tf.variable(tf.tensor(randn(40000, 6), [200, 200]))];
        const opt = createOptimizer(spec);
        for (let s = 0; s < 5; s++) {
          const grads = [tf.tensor(randn(300, 10 + s), [300]), tf.tensor(randn(40000, 20 + s, 0.05), [200, 200])];
          const clipped = clipByGlobalNorm(grads, 12);
          opt.apply(vars, clipped.grads, 0.01 * (1 - s / 5));
          tf.dispose([...grads, ...clipped.grads]);
          if (typeof clipped.norm !== 'number') clipped.norm.dispose();
        }
        const out = vars.map((v) => Float32Array.from(v.dataSync()));
        opt.dispose();
        tf.dispose(vars);
        return out;
      };
      const host = run('on');
      const device = run('off');
      host.forEach((h, i) => {
        let worst = 0;
        for (let k = 0; k < h.length; k++) worst = Math.max(worst, Math.abs(h[k] - device[i][k]) / (1 + Math.abs(device[i][k])));
        expect(worst, `${spec.kind} tensor ${i}`).toBeLessThan(2e-6);
      });
    });
  }
});
