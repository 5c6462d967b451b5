import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { gaussianImportance } from '../../../src/runtime/infer/gaussian.js';
import { MIRROR_AXES, slidingWindowPredict, threshold } from '../../../src/runtime/infer/sliding-window.js';
import { tileStarts } from '../../../src/runtime/infer/tiling.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { heads, maxAbsDiff, tinyArch } from '../model/helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('tiling (nnU-Net compute_steps_for_sliding_window)', () => {
  it('uses ceil((size - tile) / (step * tile)) + 1 evenly spaced tiles covering the volume', () => {
    expect(tileStarts(16, 16, 0.5)).toEqual([0]);
    // (40 - 16) / 8 = 3 -> 4 tiles, spacing 8
    expect(tileStarts(40, 16, 0.5)).toEqual([0, 8, 16, 24]);
    // ceil(26 / 8) + 1 = 5 tiles, spacing 26 / 4 = 6.5, rounded half to even as np.round does
    expect(tileStarts(42, 16, 0.5)).toEqual([0, 6, 13, 20, 26]);
    expect(tileStarts(17, 16, 1)).toEqual([0, 1]);
    expect(() => tileStarts(8, 16, 0.5)).toThrow(/smaller than the tile/);
  });

  it('Gaussian importance map: sigma = tile/8 around index floor(tile/2) (nnU-Net), peak 1, no zeros', () => {
    const g = gaussianImportance([8, 8, 16]);
    expect(Math.max(...g)).toBe(1);
    expect(g.every((v) => v > 0)).toBe(true);
    const at = (z: number, y: number, x: number) => g[(z * 8 + y) * 16 + x];
    expect(at(4, 4, 8)).toBe(1);
    expect(at(3, 4, 8)).toBeCloseTo(at(5, 4, 8), 6);
    // along x (tile 16, sigma 2, centre 8): exp(-d^2 / 8)
    expect(at(4, 4, 11)).toBeCloseTo(Math.exp(-9 / 8), 6);
    expect(at(4, 4, 0)).toBeCloseTo(Math.exp(-64 / 8), 6);
  });
});

describe('slidingWindowPredict', () => {
  const arch = tinyArch({ patch: [8, 8, 8] });

  it('equals sigmoid(model) when the image is exactly one tile', async () => {
    const m = UNet.create(arch, heads(3), 1);
    const img = tf.randomNormal([1, 8, 8, 8, 1], 0, 1, 'float32', 2) as tf.Tensor5D;
    const direct = tf.sigmoid(m.apply(img));
    const probs = await slidingWindowPredict(m, img.dataSync() as Float32Array, [8, 8, 8], { stepFraction: 0.5, gaussian: true, mirror: false });
    expect(probs.length).toBe(3);
    for (let h = 0; h < 3; h++) {
      const ref = tf.gather(direct, [h], 4);
      expect(maxAbsDiff(probs[h], ref.dataSync() as Float32Array)).toBeLessThan(1e-5);
    }
    m.dispose();
  });

  it('mirroring averages the probabilities of the 8 flipped predictions, each flipped back', async () => {
    const m = UNet.create(arch, heads(2), 3);
    const img = tf.randomNormal([1, 8, 8, 8, 1], 0, 1, 'float32', 4) as tf.Tensor5D;
    const ref = tf.tidy(() => {
      const ps = MIRROR_AXES.map((axes) => {
        const x = axes.length ? tf.reverse(img, axes) : img;
        const p = tf.sigmoid(m.apply(x as tf.Tensor5D));
        return axes.length ? tf.reverse(p, axes) : p;
      });
      return tf.div(tf.addN(ps), 8);
    });
    const probs = await slidingWindowPredict(m, img.dataSync() as Float32Array, [8, 8, 8], { stepFraction: 0.5, gaussian: false, mirror: true, heads: [1] });
    expect(probs.length).toBe(1);
    expect(maxAbsDiff(probs[0], tf.gather(ref, [1], 4).dataSync() as Float32Array)).toBeLessThan(1e-5);
    const plain = await slidingWindowPredict(m, img.dataSync() as Float32Array, [8, 8, 8], { stepFraction: 0.5, gaussian: false, mirror: false, heads: [1] });
    expect(maxAbsDiff(probs[0], plain[0])).toBeGreaterThan(1e-4);
    m.dispose();
  });

  it('stitches overlapping tiles into a weighted average (a constant prediction stays constant)', async () => {
    // Zero all weights and set the head bias: every tile predicts sigmoid(bias) everywhere.
    const m = UNet.create(arch, heads(1), 5);
    for (const [name, v] of m.params) v.assign(tf.fill(v.shape, name === 'head.bias' ? 1.5 : 0));
    const shape: [number, number, number] = [13, 8, 20];
    const img = new Float32Array(13 * 8 * 20).fill(0.3);
    const [p] = await slidingWindowPredict(m, img, shape, { stepFraction: 0.5, gaussian: true, mirror: false, tilesPerBatch: 3 });
    const expected = 1 / (1 + Math.exp(-1.5));
    expect(p.length).toBe(img.length);
    expect(Math.max(...p.map((v) => Math.abs(v - expected)))).toBeLessThan(1e-5);
    m.dispose();
  });

  it('gives the same result with several tiles per forward pass', async () => {
    const m = UNet.create(arch, heads(2), 6);
    const shape: [number, number, number] = [12, 10, 9];
    const img = Float32Array.from({ length: 12 * 10 * 9 }, (_, i) => Math.sin(i * 0.37));
    const one = await slidingWindowPredict(m, img, shape, { stepFraction: 0.5, gaussian: true, mirror: false, tilesPerBatch: 1 });
    const four = await slidingWindowPredict(m, img, shape, { stepFraction: 0.5, gaussian: true, mirror: false, tilesPerBatch: 4 });
    expect(maxAbsDiff(one[0], four[0])).toBeLessThan(1e-5);
    expect(maxAbsDiff(one[1], four[1])).toBeLessThan(1e-5);
    m.dispose();
  });

  it('pads images smaller than the tile and crops the result back', async () => {
    const m = UNet.create(arch, heads(1), 7);
    const shape: [number, number, number] = [5, 8, 6];
    const img = Float32Array.from({ length: 5 * 8 * 6 }, (_, i) => Math.cos(i));
    const [p] = await slidingWindowPredict(m, img, shape, { stepFraction: 0.5, gaussian: true, mirror: false });
    expect(p.length).toBe(5 * 8 * 6);
    // Reference: the same volume zero-padded to 8x8x8 (offsets 1, 0, 1), one tile.
    const padded = tf.pad(tf.tensor5d(img, [1, 5, 8, 6, 1]), [[0, 0], [1, 2], [0, 0], [1, 1], [0, 0]]) as tf.Tensor5D;
    const ref = tf.slice(tf.sigmoid(m.apply(padded)), [0, 1, 0, 1, 0], [1, 5, 8, 6, 1]);
    expect(maxAbsDiff(p, ref.dataSync() as Float32Array)).toBeLessThan(1e-5);
    m.dispose();
  });

  it('thresholds each class independently at p > 0.5', () => {
    expect(Array.from(threshold(Float32Array.from([0.2, 0.5, 0.51, 0.9])))).toEqual([0, 0, 1, 1]);
  });
});
