// SwinUNETR against a PyTorch build of the same network (bench/pytorch_reference.py's SwinUNETR, MONAI
// 1.3's topology written out): the forward output and the gradients of sum(output * probe) for
// parameters of every kind of layer, at feature size 12 and patch 64x32x32, where the window is
// padded, shifted, clamped on some axes only (stage 3: 8x4x4, MONAI's mask slices on an axis without
// shift) and clamped everywhere (stage 4). (At 32^3 the bottleneck is one voxel, whose InstanceNorm
// PyTorch refuses to train.)
// PyTorch computes in float64. The forward agrees to 2e-4 of its largest value; gradients to 1e-2 of
// theirs: attention and head gradients to 2e-3, the convolutions near the bottleneck less closely,
// whose InstanceNorm normalises over few voxels at this patch (2x2x2 at dec5) and amplifies float32 rounding
// (the bottleneck's, over 1 voxel, has no gradient to compare).
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../../../src/runtime/backend.js';
import { createNetwork, parameterSpecs } from '../../../src/runtime/model/registry.js';
import { Prng } from '../../../src/runtime/rng.js';
import { HAS_TORCH, runPythonFile, TORCH_SKIP_REASON } from '../data/python.js';
import { heads, maxAbsDiff, swinArch } from './helpers.js';

function absMax(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

const GRADS = [
  'vit.embed.weight',
  'vit.layer0.block1.attn.rel_bias',
  'vit.layer0.block0.attn.qkv.weight',
  'vit.layer2.block1.attn.rel_bias',
  'vit.layer2.block1.mlp.fc1.weight',
  'vit.layer3.merge.reduction.weight',
  'vit.layer1.merge.norm.scale',
  'enc0.conv1.weight',
  'enc3.conv2.weight',
  'enc10.conv2.weight',
  'dec5.up.weight',
  'dec1.conv3.weight',
  'head.weight',
  'head.bias',
];

beforeAll(async () => {
  await initBackend('cpu');
});

const SKIP = HAS_TORCH ? false : TORCH_SKIP_REASON;
if (SKIP) console.warn(`swin reference: ${SKIP}`);

describe.skipIf(!HAS_TORCH)('SwinUNETR against PyTorch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtc-swin-ref-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('forward output and gradients equal a PyTorch build of MONAI 1.3 SwinUNETR', () => {
    const arch = swinArch([64, 32, 32]);
    const classes = 2;
    const model = createNetwork(arch, heads(classes), 3);
    // Random biases and norms too (their initial 0 / 1 would hide a mapping error).
    const rng = new Prng(9);
    const specs = parameterSpecs(arch, classes);
    for (const s of specs) {
      if (s.role === 'weight') continue;
      const v = model.params.get(s.name)!;
      v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (s.role === 'scale' ? 1 : 0) + 0.1 * rng.normal()), v.shape));
    }
    const [z, y, x] = arch.patch;
    const input = Float32Array.from({ length: z * y * x }, () => rng.normal());
    const probe = Float32Array.from({ length: z * y * x * classes }, () => rng.normal());
    const weights = model.weights();
    const flat = new Float32Array(specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0));
    let off = 0;
    for (const s of specs) {
      flat.set(weights.get(s.name)!, off);
      off += weights.get(s.name)!.length;
    }
    writeFileSync(join(dir, 'weights.bin'), Buffer.from(flat.buffer));
    writeFileSync(join(dir, 'input.bin'), Buffer.from(input.buffer));
    writeFileSync(join(dir, 'probe.bin'), Buffer.from(probe.buffer));
    const meta = { featureSize: 12, classes, double: true, input: [1, z, y, x, 1], weights: specs.map((s) => ({ name: s.name, shape: s.shape })), grads: GRADS };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
    const info = JSON.parse(runPythonFile('bench/pytorch_reference.py', ['swin_check', '--dir', dir, '--threads', '2'])) as { parameters: number };
    expect(info.parameters).toBe(model.parameterCount());

    const xs = tf.tensor5d(input, [1, z, y, x, 1]);
    const probeT = tf.tensor5d(probe, [1, z, y, x, classes]);
    const vars = GRADS.map((n) => model.params.get(n)!);
    let out: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const o = model.apply(xs);
      out = tf.keep(o.clone());
      return tf.sum(tf.mul(o, probeT)) as tf.Scalar;
    }, vars);
    const ref = new Float32Array(readFileSync(join(dir, 'out.bin')).buffer.slice(0));
    const refGrads = new Float32Array(readFileSync(join(dir, 'grads.bin')).buffer.slice(0));
    const scale = absMax(ref);
    expect(maxAbsDiff(out!, ref) / scale).toBeLessThan(2e-4);
    let g0 = 0;
    for (const v of vars) {
      const name = GRADS[vars.indexOf(v)];
      const mine = grads[v.name].dataSync() as Float32Array;
      const theirs = refGrads.subarray(g0, g0 + mine.length);
      g0 += mine.length;
      const gs = Math.max(1e-6, absMax(theirs));
      const rel = maxAbsDiff(mine, theirs) / gs;
      expect(rel, name).toBeLessThan(1e-2);
    }
    expect(g0).toBe(refGrads.length);
    tf.dispose([value, out!, ...Object.values(grads)]);
    tf.dispose([xs, probeT]);
    model.dispose();
  }, 300_000);
});
