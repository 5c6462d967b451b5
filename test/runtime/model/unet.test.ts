import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { parameterSpecs, UNet, validateArchitecture } from '../../../src/runtime/model/unet.js';
import { heads, maxAbsDiff, tinyArch } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('UNet structure', () => {
  it('names its parameters by stage, with conv3d/transposed-conv layouts and one head channel per class', () => {
    const specs = parameterSpecs(tinyArch(), 3);
    const byName = Object.fromEntries(specs.map((s) => [s.name, s.shape]));
    expect(byName['enc0.conv0.weight']).toEqual([3, 3, 3, 1, 2]);
    expect(byName['enc0.conv1.weight']).toEqual([3, 3, 3, 2, 2]);
    expect(byName['enc1.conv0.weight']).toEqual([3, 3, 3, 2, 4]);
    expect(byName['enc1.norm1.scale']).toEqual([4]);
    expect(byName['dec0.up.weight']).toEqual([2, 2, 2, 2, 4]);
    expect(byName['dec0.conv0.weight']).toEqual([3, 3, 3, 4, 2]);
    expect(byName['head.weight']).toEqual([1, 1, 1, 2, 3]);
    expect(byName['head.bias']).toEqual([3]);
    expect(specs.length).toBe(new Set(specs.map((s) => s.name)).size);
  });

  it('maps [B, z, y, x, 1] to logits [B, z, y, x, heads], also with anisotropic strides', () => {
    const arch = tinyArch({ patch: [4, 8, 8], features: [2, 3, 4], strides: [[1, 1, 1], [1, 2, 2], [2, 2, 2]] });
    const m = UNet.create(arch, heads(5), 1);
    const y = m.apply(tf.randomNormal([2, 4, 8, 8, 1]) as tf.Tensor5D);
    expect(y.shape).toEqual([2, 4, 8, 8, 5]);
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    y.dispose();
    m.dispose();
  });

  it('uses per-stage kernels (1 on a coarse axis) when the architecture gives them', () => {
    const arch = tinyArch({ kernels: [[1, 3, 3], [3, 3, 3]] });
    expect(parameterSpecs(arch, 1).find((s) => s.name === 'enc0.conv0.weight')!.shape).toEqual([1, 3, 3, 1, 2]);
    expect(parameterSpecs(arch, 1).find((s) => s.name === 'dec0.conv1.weight')!.shape).toEqual([1, 3, 3, 2, 2]);
    const m = UNet.create(arch, heads(1), 1);
    expect(m.apply(tf.zeros([1, 8, 8, 8, 1]) as tf.Tensor5D).shape).toEqual([1, 8, 8, 8, 1]);
    m.dispose();
    expect(() => validateArchitecture(tinyArch({ kernels: [[5, 3, 3], [3, 3, 3]] }))).toThrow(/kernel \[5, 3, 3\] is not supported/);
  });

  it('initialises He normal (a = 0.01) with a seed, biases 0, norm scale 1 / offset 0', () => {
    const arch = tinyArch({ features: [16, 32] });
    const a = UNet.create(arch, heads(2), 42);
    const b = UNet.create(arch, heads(2), 42);
    const c = UNet.create(arch, heads(2), 43);
    const w = a.weights();
    const conv = w.get('enc1.conv1.weight')!; // fan_in 27 * 32
    const std = Math.sqrt(conv.reduce((s, v) => s + v * v, 0) / conv.length);
    const expected = Math.sqrt(2 / (1 + 0.01 ** 2)) / Math.sqrt(27 * 32);
    expect(Math.abs(std - expected) / expected).toBeLessThan(0.03);
    expect(w.get('enc1.conv1.bias')!.every((v) => v === 0)).toBe(true);
    expect(w.get('enc1.norm1.scale')!.every((v) => v === 1)).toBe(true);
    expect(w.get('enc1.norm1.offset')!.every((v) => v === 0)).toBe(true);
    expect(maxAbsDiff(conv, b.weights().get('enc1.conv1.weight')!)).toBe(0);
    expect(maxAbsDiff(conv, c.weights().get('enc1.conv1.weight')!)).toBeGreaterThan(0.01);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('two models can coexist (tfjs variable names do not clash) and dispose frees their tensors', () => {
    const before = tf.memory().numTensors;
    const a = UNet.create(tinyArch(), heads(1), 1);
    const b = UNet.create(tinyArch(), heads(1), 1);
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects architectures it cannot build, saying why', () => {
    expect(() => validateArchitecture(tinyArch({ patch: [8, 8, 7] }))).toThrow(/not divisible by the total stride/);
    expect(() => validateArchitecture(tinyArch({ strides: [[1, 1, 1]] }))).toThrow(/2 feature stages but 1 strides/);
    expect(() => validateArchitecture(tinyArch({ strides: [[2, 2, 2], [2, 2, 2]] }))).toThrow(/stage 0 stride/);
    const m = UNet.create(tinyArch(), heads(1), 1);
    expect(() => m.apply(tf.zeros([1, 7, 8, 8, 1]) as tf.Tensor5D)).toThrow(/multiple of the total stride/);
    m.dispose();
  });
});
