// SwinUNETR on webgpu against the cpu backend: the forward pass and the gradients of a training
// loss (the attention ops' tfjs compositions on webgpu, their host kernels on cpu), at feature size
// 12 and patch 32^3 (windows padded and shifted in stages 1-2, clamped in 3-4).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { registerFastCpuKernels } from '../../../src/runtime/kernels/index.js';
import { multiTalentLoss } from '../../../src/runtime/loss/multitalent.js';
import { createNetwork, networkFromWeights, type Network } from '../../../src/runtime/model/registry.js';
import { Prng } from '../../../src/runtime/rng.js';
import { registerWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { heads, swinArch } from '../model/helpers.js';
import { maxRelErr, onBackend, readOn, webgpuSkipReason } from './helpers.js';

const GRADS = ['vit.embed.weight', 'vit.layer0.block1.attn.rel_bias', 'vit.layer1.block0.attn.qkv.weight', 'vit.layer3.merge.reduction.weight', 'enc0.conv1.weight', 'dec1.up.weight', 'head.weight'];

describe.skipIf(webgpuSkipReason)('SwinUNETR on webgpu equals the cpu backend', () => {
  beforeAll(() => {
    registerFastCpuKernels();
    registerWebGpuKernels();
  });

  it('forward output and the training loss\'s gradients', async () => {
    const arch = swinArch([32, 32, 32]);
    const rng = new Prng(8);
    const vox = 32 * 32 * 32;
    const image = Float32Array.from({ length: vox }, () => rng.normal());
    const targets = Float32Array.from({ length: vox * 2 }, () => (rng.next() < 0.3 ? 1 : 0));
    const weights = await onBackend('cpu', () => {
      const m = createNetwork(arch, heads(2), 4);
      const w = m.weights();
      m.dispose();
      return w;
    });
    const run = async (backend: 'cpu' | 'webgpu') =>
      onBackend(backend, async () => {
        const model: Network = networkFromWeights(arch, heads(2), weights);
        const x = tf.tensor5d(image, [1, 32, 32, 32, 1]);
        const t = tf.tensor5d(targets, [1, 32, 32, 32, 2]);
        const mask = tf.tensor2d([1, 1], [1, 2]);
        const vars = GRADS.map((n) => model.params.get(n)!);
        let out: tf.Tensor | null = null;
        const { value, grads } = tf.variableGrads(() => {
          const o = model.apply(x);
          out = tf.keep(o.clone());
          return multiTalentLoss(o, t, mask);
        }, vars);
        const result = { out: await readOn(out!), loss: (await readOn(value))[0], grads: await Promise.all(vars.map((v) => readOn(grads[v.name]))) };
        tf.dispose([x, t, mask, value, out!, ...Object.values(grads)]);
        model.dispose();
        return result;
      });
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    expect(maxRelErr(gpu.out, cpu.out)).toBeLessThan(1e-4);
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4 * (1 + Math.abs(cpu.loss)));
    GRADS.forEach((name, i) => {
      let scale = 0;
      for (const v of cpu.grads[i]) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      cpu.grads[i].forEach((v, j) => (worst = Math.max(worst, Math.abs(v - gpu.grads[i][j]))));
      expect(worst / Math.max(scale, 1e-8), name).toBeLessThan(1e-3);
    });
  }, 600_000);
});
