// Reproducibility of training on the cpu backend with the native kernels: the same network, data
// and seed give bit-identical weights whatever the kernels' thread count, and between the avx512 and
// avx2 builds (the claim the run header makes; see runtime/kernels/native_config.ts nativeNumerics).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchitectureSpec, OptimizerSpec } from '../../../src/graph/types.js';
import { loadNativeConv3d } from '../../../src/runtime/kernels/native_addon.js';
import { currentNativeIsa, nativeIsas, nativeNumerics, selectNativeIsa, setNativeThreads } from '../../../src/runtime/kernels/native_config.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { Prng } from '../../../src/runtime/rng.js';
import { initRuntime } from '../../../src/runtime/setup.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';
import { heads } from '../model/helpers.js';

const load = loadNativeConv3d();
const skipReason = load.addon ? (load.addon.setThreads ? undefined : 'the addon predates thread control (rebuild it)') : load.reason;
if (skipReason) console.warn(`training reproducibility across native builds not checked: ${skipReason}`);
const SKIP = skipReason ? ` [SKIPPED: ${skipReason}]` : '';
const initialIsa = skipReason ? undefined : currentNativeIsa();

beforeAll(async () => {
  await initRuntime('cpu');
});
afterAll(() => {
  if (initialIsa) selectNativeIsa(initialIsa);
  if (!skipReason) setNativeThreads(0);
});

const unet: ArchitectureSpec = {
  name: 'r', kind: 'unet', patch: [16, 16, 16], features: [4, 8, 16], strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2]], convsPerStage: 2, deepSupervision: true,
};
const resenc: ArchitectureSpec = {
  name: 'r', kind: 'resenc_unet', patch: [16, 16, 16], features: [8, 16, 24], strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2]], convsPerStage: 1, blocksPerStage: [1, 2, 2],
};

/** Three optimisation steps (SGD Nesterov with clipping, or AdamW) from fixed data; the weights after. */
async function train(arch: ArchitectureSpec, optimizer: OptimizerSpec): Promise<Map<string, Float32Array>> {
  const hs = heads(3);
  const model = UNet.create(arch, hs, 11);
  const opt = createOptimizer(optimizer);
  const rng = new Prng(5);
  const [z, y, x] = arch.patch;
  const n = 2 * z * y * x;
  const image = tf.tensor5d(Float32Array.from({ length: n }, () => rng.normal()), [2, z, y, x, 1]);
  const targets = tf.tensor5d(Float32Array.from({ length: n * 3 }, () => (rng.next() < 0.2 ? 1 : 0)), [2, z, y, x, 3]);
  const mask = tf.tensor2d([1, 1, 0, 1, 0, 1], [2, 3]);
  try {
    for (let s = 0; s < 3; s++) await trainStep(model, model.variables(), opt, { image, targets, mask }, 0.01, 12);
    return model.weights();
  } finally {
    tf.dispose([image, targets, mask]);
    opt.dispose();
    model.dispose();
  }
}

function expectBitIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, v] of a) {
    const w = b.get(name)!;
    const same = v.every((x, i) => Object.is(x, w[i]));
    expect(same, `${what}: ${name} differs`).toBe(true);
  }
}

describe(`training is reproducible on the native kernels${SKIP}`, () => {
  const cases = [
    ['U-Net with deep supervision, SGD', unet, { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 }],
    ['ResEnc U-Net, AdamW', resenc, { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 }],
  ] as const;

  for (const [label, arch, opt] of cases) {
    it.skipIf(skipReason !== undefined)(`${label}: the same weights with 1, 2 and 3 kernel threads`, async () => {
      setNativeThreads(1);
      const one = await train(arch, opt);
      for (const t of [2, 3]) {
        setNativeThreads(t);
        expectBitIdentical(await train(arch, opt), one, `${t} threads`);
      }
      setNativeThreads(0);
    });

    it.skipIf(skipReason !== undefined)(`${label}: the same weights on the avx512 and avx2 builds`, async () => {
      const isas = nativeIsas();
      if (!isas.includes('avx512') || !isas.includes('avx2')) {
        console.warn('avx512 vs avx2 not compared: this CPU lacks one of the builds');
        return;
      }
      selectNativeIsa('avx512');
      const a = await train(arch, opt);
      selectNativeIsa('avx2');
      expectBitIdentical(await train(arch, opt), a, 'avx2 vs avx512');
      if (initialIsa) selectNativeIsa(initialIsa);
    });
  }

  it.skipIf(skipReason !== undefined)('the generic build (no FMA) differs in the last bits, as the header says, and only there', async () => {
    const isas = nativeIsas();
    const fma = isas.find((i) => i !== 'generic');
    if (!fma) return;
    selectNativeIsa(fma);
    const a = await train(unet, cases[0][2]);
    selectNativeIsa('generic');
    const b = await train(unet, cases[0][2]);
    if (initialIsa) selectNativeIsa(initialIsa);
    let differing = 0;
    let worst = 0;
    for (const [name, v] of a) {
      const w = b.get(name)!;
      v.forEach((x, i) => {
        if (!Object.is(x, w[i])) differing++;
        worst = Math.max(worst, Math.abs(x - w[i]) / (1e-3 + Math.abs(x)));
      });
    }
    expect(differing).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-2);
  });

  it.skipIf(skipReason !== undefined)('the run header states the build and what it reproduces', async () => {
    const info = await initRuntime('cpu');
    expect(info.description).toContain(`${currentNativeIsa()} build`);
    expect(info.description).toContain('bit-identical for any thread count');
    expect(nativeNumerics()).toMatch(/thread/);
  });
});
