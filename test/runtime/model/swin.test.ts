// SwinUNETR's pieces: the registry entry, MONAI's window geometry (against the PyTorch definition in
// bench/pytorch_reference.py where an axis is clamped while another shifts), the attention ops'
// host kernels against their tfjs compositions and numerical gradients, and a training step
// without leaks.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { ArchitectureSpec, TrainParams } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { initFromPretrained, loadCheckpoint, readCheckpointManifest, saveCheckpoint } from '../../../src/runtime/model/checkpoint.js';
import { checkpointMismatch } from '../../../src/runtime/preflight.js';
import { multiTalentLoss } from '../../../src/runtime/loss/multitalent.js';
import { gatherRows, windowAttention, type AttentionTables } from '../../../src/runtime/model/attention.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import { createNetwork, isHead, networkDefinition, networkKinds, outputCount, parameterSpecs } from '../../../src/runtime/model/registry.js';
import { attentionMask, inverseIndex, relativePositionIndex, stageGeometry, windowRows } from '../../../src/runtime/model/swin-geometry.js';
import { Prng } from '../../../src/runtime/rng.js';
import { createOptimizer } from '../../../src/runtime/train/optimizer.js';
import { trainStep } from '../../../src/runtime/train/step.js';
import { HAS_TORCH, runPython } from '../data/python.js';
import { heads, maxAbsDiff, swinArch } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => setFusedOps('auto'));

describe('SwinUNETR in the registry', () => {
  it('is a registered kind with one output, heads named head.*, and MONAI-checked topology', () => {
    expect(networkKinds()).toEqual(['unet', 'resenc_unet', 'swin_unetr']);
    const arch = swinArch([32, 32, 32]);
    expect(outputCount(arch)).toBe(1);
    const specs = parameterSpecs(arch, 3);
    expect(specs.filter((s) => isHead(arch, s.name)).map((s) => s.name)).toEqual(['head.weight', 'head.bias']);
    expect(specs.find((s) => s.name === 'vit.layer0.block0.attn.rel_bias')!.shape).toEqual([13 * 13 * 13, 3]);
    expect(specs.find((s) => s.name === 'vit.layer3.merge.reduction.weight')!.shape).toEqual([8 * 96, 2 * 96]);
    expect(specs.some((s) => s.name === 'enc1.conv3.weight')).toBe(false); // 12 -> 12: identity residual
    expect(specs.find((s) => s.name === 'dec1.conv3.weight')!.shape).toEqual([1, 1, 1, 24, 12]);
    const def = networkDefinition('swin_unetr');
    expect(() => def.validate({ ...arch, patch: [48, 32, 32] })).toThrow(/not divisible by 32 on axis 0/);
    expect(() => def.validate({ ...arch, swin: { ...arch.swin!, featureSize: 18 } })).toThrow(/multiple of 12/);
    expect(() => networkDefinition('transformer')).toThrow(/not known to this runtime \(it builds unet, resenc_unet, swin_unetr\)/);
  });
});

describe('window geometry (MONAI get_window_size, compute_mask, window_partition, torch.roll)', () => {
  it('clamps the window and drops the shift on axes not larger than the window', () => {
    const g = stageGeometry([8, 4, 4], [7, 7, 7]);
    expect(g).toMatchObject({ window: [7, 4, 4], shift: [3, 0, 0], padded: [14, 4, 4], tokens: 112, windows: 2 });
    expect(stageGeometry([2, 2, 2], [7, 7, 7])).toMatchObject({ window: [2, 2, 2], shift: [0, 0, 0], windows: 1 });
  });

  it('the relative index of a clamped window is the first n pairs of the full window (as MONAI slices it)', () => {
    const full = relativePositionIndex([7, 7, 7], 343);
    const four = relativePositionIndex([7, 7, 7], 8);
    expect(four[0]).toBe(full[0]);
    expect(four[1]).toBe(full[1]);
    expect(four[8]).toBe(full[343]); // row 1, column 0
    expect(full[0]).toBe(6 * 169 + 6 * 13 + 6); // (0,0,0) - (0,0,0) is the table's centre
    const inv = inverseIndex(four, 2197);
    let total = 0;
    for (const p of inv.positions) if (p < four.length) total++;
    expect(total).toBe(four.length);
  });

  it.skipIf(!HAS_TORCH)('mask and rolled partition equal the PyTorch definition where one axis shifts and two are clamped', () => {
    const g = stageGeometry([8, 4, 4], [7, 7, 7]);
    const py = `
import sys, json, torch
sys.path.insert(0, 'bench')
from pytorch_reference import swin_mask, swin_partition
win, shift, padded, dims = [7, 4, 4], [3, 0, 0], [14, 4, 4], [8, 4, 4]
m = swin_mask(padded, win, shift)
ids = torch.arange(1, 1 + 8 * 4 * 4, dtype=torch.float32).reshape(1, 8, 4, 4, 1)
x = torch.nn.functional.pad(ids, (0, 0, 0, 0, 0, 0, 0, 6))
x = torch.roll(x, shifts=(-3, 0, 0), dims=(1, 2, 3))
rows = swin_partition(x, win).reshape(-1) - 1
print(json.dumps({"mask": m.reshape(-1).tolist(), "rows": rows.tolist()}))
`;
    const ref = JSON.parse(runPython(py)) as { mask: number[]; rows: number[] };
    expect(Array.from(attentionMask(g))).toEqual(ref.mask);
    expect(Array.from(windowRows(g, true).index)).toEqual(ref.rows);
  });
});

function tables(rng: Prng, n: number, windows: number, masked: boolean): AttentionTables {
  const idx = Int32Array.from({ length: n * n }, () => Math.floor(rng.next() * 10));
  const inv = inverseIndex(idx, 10);
  const mask = masked ? Float32Array.from({ length: windows * n * n }, () => (rng.next() < 0.3 ? -100 : 0)) : null;
  return {
    index: tf.tensor1d(idx, 'int32'),
    inverse: tf.tensor1d(inv.positions, 'int32'),
    perRow: inv.perRow,
    mask: mask ? tf.tensor2d(mask, [windows, n * n]) : null,
    windows,
  };
}

describe('attention ops: host kernels, compositions and gradients', () => {
  for (const masked of [false, true]) {
    it(`window attention${masked ? ' with a mask' : ''}: kernel = composition, gradients = numerical`, () => {
      const rng = new Prng(4);
      const [B, windows, h, n, hd] = [2, 3, 2, 5, 3];
      const t = tables(rng, n, windows, masked);
      const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()), shape);
      const [q, k, v] = [0, 1, 2].map(() => rand([B * windows * h, n, hd]) as tf.Tensor3D);
      const table = rand([10, h]) as tf.Tensor2D;
      const probe = rand([B * windows * h, n, hd]);
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.sum(tf.mul(windowAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, d as tf.Tensor2D, t, h), probe)) as tf.Scalar;
      const run = () => tf.grads(loss)([q, k, v, table]);
      const fused = run();
      setFusedOps('off');
      const plain = run();
      const yPlain = windowAttention(q, k, v, table, t, h);
      setFusedOps('auto');
      expect(maxAbsDiff(windowAttention(q, k, v, table, t, h), yPlain)).toBeLessThan(1e-5);
      fused.forEach((g, i) => expect(maxAbsDiff(g, plain[i])).toBeLessThan(1e-4));
      // numerical gradient of a few entries of q and the table
      const eps = 1e-2;
      for (const [which, at] of [[0, 7], [3, 5], [3, 12], [2, 30]] as const) {
        const inputs = [q, k, v, table];
        const base = inputs[which];
        const vals = base.dataSync().slice();
        const f = (delta: number) => {
          const moved = vals.slice();
          moved[at] += delta;
          const args = inputs.map((x, i) => (i === which ? tf.tensor(moved, base.shape) : x));
          return loss(args[0], args[1], args[2], args[3]).dataSync()[0];
        };
        const num = (f(eps) - f(-eps)) / (2 * eps);
        expect(fused[which].dataSync()[at]).toBeCloseTo(num, 2);
      }
    });
  }

  it('gather rows: zero rows for -1, gradient = the inverse pick, kernel = composition', () => {
    const rng = new Prng(5);
    const x = tf.tensor3d(Float32Array.from({ length: 2 * 6 * 3 }, () => rng.normal()), [2, 6, 3]);
    const index = tf.tensor1d([4, -1, 0, 5, 1, -1, 3, 2], 'int32');
    const inverse = tf.tensor1d([2, 4, 7, 6, 0, 3], 'int32');
    const probe = tf.tensor3d(Float32Array.from({ length: 2 * 8 * 3 }, () => rng.normal()), [2, 8, 3]);
    const f = (a: tf.Tensor) => tf.sum(tf.mul(gatherRows(a as tf.Tensor3D, index, inverse), probe)) as tf.Scalar;
    const y = gatherRows(x, index, inverse);
    expect(Array.from(y.slice([0, 1, 0], [1, 1, 3]).dataSync())).toEqual([0, 0, 0]);
    expect(Array.from(y.slice([1, 0, 0], [1, 1, 3]).dataSync())).toEqual(Array.from(x.slice([1, 4, 0], [1, 1, 3]).dataSync()));
    const g = tf.grad(f)(x);
    setFusedOps('off');
    const gPlain = tf.grad(f)(x);
    expect(maxAbsDiff(gatherRows(x, index, inverse), y)).toBe(0);
    setFusedOps('auto');
    expect(maxAbsDiff(g, gPlain)).toBeLessThan(1e-6);
    // d/dx[b, r] = probe[b, position of r]
    expect(Array.from(g.slice([0, 4, 0], [1, 1, 3]).dataSync())).toEqual(Array.from(probe.slice([0, 0, 0], [1, 1, 3]).dataSync()));
  });
});

describe('SwinUNETR checkpoints and fine-tuning', () => {
  it('saves and loads, copies the backbone into a network with other heads, and the backbone check names a mismatch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtc-swin-ckpt-'));
    try {
      const arch = swinArch([32, 32, 32]);
      const source = createNetwork(arch, heads(2), 1);
      await saveCheckpoint(source, dir);
      const loaded = await loadCheckpoint(dir);
      expect(loaded.architecture.kind).toBe('swin_unetr');
      expect(maxAbsDiff(loaded.params.get('vit.layer1.block1.attn.rel_bias')!, source.params.get('vit.layer1.block1.attn.rel_bias')!)).toBe(0);
      const target = createNetwork(arch, heads(3, 'b'), 2);
      const init = await initFromPretrained(target, dir);
      expect(init.skipped.map((x) => x.name)).toEqual(['head.weight', 'head.bias']);
      expect(init.copied.length).toBe(target.params.size - 2);
      expect(maxAbsDiff(target.params.get('dec1.conv1.weight')!, source.params.get('dec1.conv1.weight')!)).toBe(0);
      const manifest = await readCheckpointManifest(dir);
      const params = (a: ArchitectureSpec) => ({ experiment: 'ft', architecture: a, heads: heads(3, 'b'), loss: 'multitalent' }) as unknown as TrainParams;
      expect(checkpointMismatch(manifest, params(arch), 'the checkpoint')).toBeNull();
      const wider = swinArch([32, 32, 32], 24);
      expect(checkpointMismatch(manifest, params(wider), 'the checkpoint')).toMatch(/the backbone in the checkpoint does not match .* backbone tensors differ \(vit\.embed\.weight is \[2, 2, 2, 1, 12\]/);
      expect(checkpointMismatch(manifest, params({ ...arch, kind: 'unet' }), 'the checkpoint')).toMatch(/holds a swin_unetr .* trains a unet/);
      [source, loaded, target].forEach((m) => m.dispose());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SwinUNETR forward', () => {
  it('a batch of two gives each sample what it gives alone (windows, masks and rows per sample)', () => {
    const arch = swinArch([32, 32, 32]);
    const model = createNetwork(arch, heads(2), 6);
    const rng = new Prng(3);
    const vox = 32 * 32 * 32;
    const a = Float32Array.from({ length: vox }, () => rng.normal());
    const b = Float32Array.from({ length: vox }, () => rng.normal());
    const both = tf.tidy(() => model.apply(tf.tensor5d(Float32Array.from([...a, ...b]), [2, 32, 32, 32, 1])));
    const first = tf.tidy(() => model.apply(tf.tensor5d(a, [1, 32, 32, 32, 1])));
    const second = tf.tidy(() => model.apply(tf.tensor5d(b, [1, 32, 32, 32, 1])));
    expect(maxAbsDiff(both.slice([0], [1]), first)).toBeLessThan(1e-4);
    expect(maxAbsDiff(both.slice([1], [1]), second)).toBeLessThan(1e-4);
    tf.dispose([both, first, second]);
    model.dispose();
  }, 60_000);
});

describe('SwinUNETR training step', () => {
  it('steps at feature size 12, patch 32^3 lower the loss with AdamW and leave no tensors behind', async () => {
    const arch = swinArch([32, 32, 32]);
    const model = createNetwork(arch, heads(2), 1);
    const rng = new Prng(2);
    const vox = 32 * 32 * 32;
    const batch = {
      image: tf.tensor5d(Float32Array.from({ length: vox }, () => rng.normal()), [1, 32, 32, 32, 1]),
      targets: tf.tensor5d(Float32Array.from({ length: vox * 2 }, () => (rng.next() < 0.3 ? 1 : 0)), [1, 32, 32, 32, 2]),
      mask: tf.tensor2d([1, 1], [1, 2]),
    };
    const opt = createOptimizer({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 });
    const losses: number[] = [];
    let after = -1;
    // The first step creates the model's window constants and the optimiser's moments; the second adds nothing.
    for (let i = 0; i < 2; i++) {
      losses.push(await trainStep(model, model.variables(), opt, batch, 1e-3, 12, true, multiTalentLoss));
      if (i === 0) after = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(after);
    expect(losses[1]).toBeLessThan(losses[0]);
    tf.dispose([batch.image, batch.targets, batch.mask]);
    model.dispose();
  }, 120_000);
});
