// The residual-encoder U-Net (resenc_unet): parameters, zero-initialised block ends, the fused and
// plain implementations agreeing, and training.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { ArchitectureSpec, HeadSpec } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { multiTalentLoss } from '../../../src/runtime/loss/multitalent.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import { Prng } from '../../../src/runtime/rng.js';
import { blockNeedsSkip, parameterSpecs, UNet, validateArchitecture } from '../../../src/runtime/model/unet.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => setFusedOps('auto'));

function resenc(overrides: Partial<ArchitectureSpec> = {}): ArchitectureSpec {
  return {
    name: 're',
    kind: 'resenc_unet',
    patch: [8, 16, 16],
    features: [4, 8, 8],
    strides: [
      [1, 1, 1],
      [1, 2, 2],
      [2, 2, 2],
    ],
    convsPerStage: 1,
    blocksPerStage: [1, 2, 2],
    ...overrides,
  };
}
const heads: HeadSpec[] = [
  { dataset: 'a', name: 'x', labels: [1] },
  { dataset: 'b', name: 'y', labels: [1] },
];

function batch(seed: number, arch: ArchitectureSpec): { image: tf.Tensor5D; targets: tf.Tensor5D; mask: tf.Tensor2D } {
  const rng = new Prng(seed);
  const [z, y, x] = arch.patch;
  const vox = 2 * z * y * x;
  return {
    image: tf.tensor5d(new Float32Array(vox).map(() => rng.normal()), [2, z, y, x, 1]),
    targets: tf.tensor5d(new Float32Array(vox * 2).map(() => (rng.next() < 0.3 ? 1 : 0)), [2, z, y, x, 2]),
    mask: tf.tensor2d([1, 0, 0, 1], [2, 2]),
  };
}

describe('resenc_unet', () => {
  it('parameters: stem, residual blocks with projection skips where stride or width change, plain decoder', () => {
    const arch = resenc();
    const specs = parameterSpecs(arch, 2);
    const names = specs.map((s) => s.name);
    expect(names.slice(0, 4)).toEqual(['stem.conv.weight', 'stem.conv.bias', 'stem.norm.scale', 'stem.norm.offset']);
    expect(blockNeedsSkip(arch, 0, 0)).toBe(false); // 4 -> 4, stride 1: identity skip
    expect(blockNeedsSkip(arch, 1, 0)).toBe(true); // 4 -> 8, stride [1,2,2]
    expect(blockNeedsSkip(arch, 1, 1)).toBe(false);
    expect(blockNeedsSkip(arch, 2, 0)).toBe(true); // 8 -> 8 but strided
    expect(names.filter((n) => n.includes('.skip.weight'))).toEqual(['enc1.block0.skip.weight', 'enc2.block0.skip.weight']);
    expect(specs.find((s) => s.name === 'enc1.block0.skip.weight')?.shape).toEqual([1, 1, 1, 4, 8]);
    expect(names).toContain('enc2.block1.conv2.weight');
    expect(names).not.toContain('enc2.block2.conv1.weight');
    expect(names.filter((n) => n.startsWith('dec1.conv'))).toEqual(['dec1.conv0.weight', 'dec1.conv0.bias']);
    // count by hand: conv(k, cin, cout) = 27*cin*cout + 3*cout (bias, scale, offset)
    const conv = (cin: number, cout: number, taps = 27) => taps * cin * cout + 3 * cout;
    const encoder = conv(1, 4) + 2 * conv(4, 4) + (conv(4, 8) + conv(8, 8) + conv(4, 8, 1)) + 2 * conv(8, 8) + (2 * conv(8, 8) + conv(8, 8, 1)) + 2 * conv(8, 8);
    const decoder = 8 * 8 * 8 + 8 + conv(16, 8) + 4 * 8 * 4 + 4 + conv(8, 4); // up: 2x2x2 taps (dec1), 1x2x2 (dec0)
    const head = 4 * 2 + 2;
    expect(specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBe(encoder + decoder + head);
  });

  it('validates blocksPerStage', () => {
    expect(() => validateArchitecture(resenc({ blocksPerStage: [1, 2] }))).toThrow(/blocksPerStage/);
    expect(() => validateArchitecture(resenc({ blocksPerStage: undefined }))).toThrow(/blocksPerStage/);
    expect(() => validateArchitecture({ ...resenc(), kind: 'swin_unetr' })).toThrow(/is not a U-Net/);
  });

  it("each block's last norm starts at scale 0, so a fresh block passes its skip and its convs get no gradient", () => {
    const m = UNet.create(resenc(), heads, 1);
    const w = m.weights();
    expect(Array.from(w.get('enc1.block1.norm2.scale')!)).toEqual(new Array(8).fill(0));
    expect(Array.from(w.get('enc1.block1.norm1.scale')!)).toEqual(new Array(8).fill(1));
    const b = batch(1, m.architecture);
    const vars = m.variables();
    const { grads, value } = tf.variableGrads(() => multiTalentLoss(m.apply(b.image), b.targets, b.mask), vars);
    const byName = new Map(vars.map((v) => [v.name.split('/')[1], grads[v.name]]));
    const absMax = (t: tf.Tensor) => tf.max(tf.abs(t)).dataSync()[0];
    expect(absMax(byName.get('enc1.block1.conv1.weight')!)).toBe(0);
    expect(absMax(byName.get('enc1.block1.conv2.weight')!)).toBe(0);
    expect(absMax(byName.get('enc1.block1.norm2.scale')!)).toBeGreaterThan(0);
    expect(absMax(byName.get('enc1.block0.skip.weight')!)).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads), b.image, b.targets, b.mask]);
    m.dispose();
  });

  it('fused (cpu kernels) and plain tfjs implementations agree on loss and every gradient', () => {
    // perturb the zero scales so that every path carries gradient
    const base = UNet.create(resenc({ deepSupervision: false }), heads, 2);
    const rng = new Prng(4);
    const weights = base.weights();
    for (const [name, v] of weights) if (name.endsWith('norm2.scale')) v.forEach((_, i) => (v[i] = 0.5 + rng.next()));
    base.dispose();
    const b = batch(2, resenc());
    const run = (mode: 'on' | 'off') => {
      setFusedOps(mode);
      const m = UNet.fromWeights(resenc(), heads, weights);
      const vars = m.variables();
      const { grads, value } = tf.variableGrads(() => multiTalentLoss(m.apply(b.image), b.targets, b.mask), vars);
      const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
      tf.dispose([value, ...Object.values(grads)]);
      m.dispose();
      return out;
    };
    const fused = run('on');
    const plain = run('off');
    expect(fused.loss).toBeCloseTo(plain.loss, 5);
    const scale = Math.max(...plain.grads.map((g) => Math.max(...Array.from(g, Math.abs))));
    fused.grads.forEach((g, i) => {
      let worst = 0;
      g.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - plain.grads[i][k]))));
      expect(worst / scale).toBeLessThan(1e-4);
    });
    tf.dispose([b.image, b.targets, b.mask]);
  });

  it('trains: the loss falls over a few steps, with deep supervision', async () => {
    const arch = resenc({ deepSupervision: true, features: [4, 8, 8, 8], strides: [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]], blocksPerStage: [1, 1, 2, 2] });
    const m = UNet.create(arch, heads, 3);
    const opt = createOptimizer({ kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 3e-5 });
    const b = batch(3, arch);
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) losses.push(await trainStep(m, m.variables(), opt, b, 0.02, 12));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[7]).toBeLessThan(losses[0]);
    tf.dispose([b.image, b.targets, b.mask]);
    opt.dispose();
    m.dispose();
  });
});
