import { describe, expect, it } from 'vitest';
import { Prng } from '../../../src/runtime/rng.js';
import { augmenterFor, flipInPlace, MirrorAugmenter } from '../../../src/runtime/train/augment.js';

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
    const aug = new MirrorAugmenter(0.5);
    const rng = new Prng(4);
    let flippedX = 0;
    for (let i = 0; i < 2000; i++) {
      const img = Float32Array.from({ length: 24 }, (_, k) => k);
      const lab = Uint8Array.from({ length: 24 }, (_, k) => k);
      aug.apply(img, lab, shape, rng);
      expect(Array.from(img)).toEqual(Array.from(lab));
      if (at(img, 0, 0, 0) % 4 === 3) flippedX++;
    }
    expect(Math.abs(flippedX / 2000 - 0.5)).toBeLessThan(0.04);
  });
});

describe('augmentation profiles', () => {
  it('applies the profile\'s mirroring (p, axes) and names the transforms not implemented yet', () => {
    const { augmenter, unsupported } = augmenterFor({
      name: 'nnunet',
      transforms: [
        { kind: 'rotation', p: 0.2, range: [-30, 30] },
        { kind: 'elastic', p: 0 },
        { kind: 'mirror', p: 1, axes: [2] },
      ],
    });
    expect(unsupported).toEqual(['rotation']);
    const img = Float32Array.from({ length: 24 }, (_, k) => k);
    const lab = Uint8Array.from({ length: 24 }, (_, k) => k);
    augmenter!.apply(img, lab, [2, 3, 4], new Prng(1));
    // p = 1 on x only: every row reversed, z and y untouched.
    expect(Array.from(img.slice(0, 4))).toEqual([3, 2, 1, 0]);
    expect(Array.from(img.slice(20, 24))).toEqual([23, 22, 21, 20]);
    expect(augmenterFor({ name: 'none', transforms: [] }).augmenter).toBeNull();
  });
});
