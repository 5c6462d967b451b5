import { describe, expect, it } from 'vitest';
import { Prng } from '../../../../src/runtime/rng.js';
import { flipInPlace, mirror } from '../../../../src/runtime/train/augment/mirror.js';
import { AugmentationPipeline } from '../../../../src/runtime/train/augment/pipeline.js';

describe('mirroring', () => {
  const shape: [number, number, number] = [2, 3, 4];
  const at = (d: Float32Array, z: number, y: number, x: number) => d[(z * 3 + y) * 4 + x];
  it('flips each chosen axis', () => {
    const base = Float32Array.from({ length: 24 }, (_, i) => i);
    for (const axes of [[true, false, false], [false, true, false], [false, false, true], [true, true, true]] as [boolean, boolean, boolean][]) {
      const d = base.slice();
      flipInPlace(d, shape, axes);
      for (let z = 0; z < 2; z++)
        for (let y = 0; y < 3; y++)
          for (let x = 0; x < 4; x++) {
            const sz = axes[0] ? 1 - z : z;
            const sy = axes[1] ? 2 - y : y;
            const sx = axes[2] ? 3 - x : x;
            expect(at(d, z, y, x)).toBe(at(base, sz, sy, sx));
          }
    }
  });

  it('flips image and label together, each axis with p = 0.5, reproducibly', () => {
    const rng = new Prng(4);
    let flippedX = 0;
    for (let i = 0; i < 2000; i++) {
      const img = Float32Array.from({ length: 24 }, (_, k) => k);
      const lab = Uint8Array.from({ length: 24 }, (_, k) => k);
      mirror.apply({ kind: 'mirror', p: 0.5, axes: [0, 1, 2] }, { image: img, label: lab, shape }, rng, { patch: shape, dummy2d: false });
      expect(Array.from(img)).toEqual(Array.from(lab));
      if (at(img, 0, 0, 0) % 4 === 3) flippedX++;
    }
    expect(Math.abs(flippedX / 2000 - 0.5)).toBeLessThan(0.04);
  });

  it('flips only the profile\'s axes', () => {
    const pipeline = new AugmentationPipeline({ name: 'x', transforms: [{ kind: 'mirror', p: 1, axes: [2] }] }, [2, 3, 4]);
    const image = Float32Array.from({ length: 24 }, (_, k) => k);
    const { patch, applied } = pipeline.sample({ image, label: new Uint8Array(24), shape: [2, 3, 4] }, [0, 0, 0], new Prng(1));
    // p = 1 on x only: every row reversed, z and y untouched.
    expect(Array.from(patch.image.slice(0, 4))).toEqual([3, 2, 1, 0]);
    expect(Array.from(patch.image.slice(20, 24))).toEqual([23, 22, 21, 20]);
    expect(applied).toEqual(['mirror']);
    expect(new AugmentationPipeline({ name: 'none', transforms: [] }, [2, 3, 4]).empty).toBe(true);
  });
});
