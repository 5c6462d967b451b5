import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { planResampling, resampleImage, resampleLabel, targetShape } from '../../../../src/runtime/data/preprocess/resample.js';

const size = (s: Vec3) => s[0] * s[1] * s[2];

describe('targetShape', () => {
  it('is round(shape * spacing / newSpacing), at least 1', () => {
    expect(targetShape([50, 100, 101], [3, 1.5, 1.5], [4, 4, 4])).toEqual([38, 38, 38]);
    expect(targetShape([3, 10, 10], [1, 1, 1], [8, 8, 8])).toEqual([1, 1, 1]);
    expect(targetShape([10, 10, 10], [2, 2, 2], [1, 1, 1])).toEqual([20, 20, 20]);
  });
});

describe('resampleImage', () => {
  it.each([0, 1] as const)('keeps a constant constant (order %i), down and up', (order) => {
    const shape: Vec3 = [5, 6, 7];
    const data = new Float32Array(size(shape)).fill(3.25);
    for (const target of [[2, 3, 4], [9, 11, 13], [5, 6, 7]] as Vec3[]) {
      const out = resampleImage(data, shape, target, order);
      expect(out.length).toBe(size(target));
      expect(out.every((v) => Math.abs(v - 3.25) < 1e-6)).toBe(true);
    }
  });

  it('keeps a linear ramp linear (trilinear, interior samples)', () => {
    const shape: Vec3 = [6, 8, 10];
    const target: Vec3 = [9, 5, 17];
    const f = (z: number, y: number, x: number) => 2 * z - 0.5 * y + 3 * x + 1;
    const data = new Float32Array(size(shape));
    for (let z = 0; z < 6; z++) for (let y = 0; y < 8; y++) for (let x = 0; x < 10; x++) data[(z * 8 + y) * 10 + x] = f(z, y, x);
    const out = resampleImage(data, shape, target, 1);
    const coord = (o: number, nIn: number, nOut: number) => (o + 0.5) * (nIn / nOut) - 0.5;
    let checked = 0;
    for (let z = 0; z < target[0]; z++) {
      for (let y = 0; y < target[1]; y++) {
        for (let x = 0; x < target[2]; x++) {
          const cz = coord(z, 6, 9);
          const cy = coord(y, 8, 5);
          const cx = coord(x, 10, 17);
          if (cz < 0 || cy < 0 || cx < 0 || cz > 5 || cy > 7 || cx > 9) continue; // edges are replicated
          expect(out[(z * target[1] + y) * target[2] + x]).toBeCloseTo(f(cz, cy, cx), 4);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('order 0 only returns input values', () => {
    const shape: Vec3 = [4, 4, 4];
    const data = Float32Array.from({ length: 64 }, (_, i) => i * 10);
    const out = resampleImage(data, shape, [7, 3, 5], 0);
    const allowed = new Set(data);
    expect(out.every((v) => allowed.has(v))).toBe(true);
  });
});

describe('resampleLabel', () => {
  it('never invents label values (0 next to 2 never becomes 1) and keeps shapes', () => {
    const shape: Vec3 = [4, 6, 8];
    const label = new Uint8Array(size(shape));
    for (let i = 0; i < label.length; i++) label[i] = i % 8 < 4 ? 0 : 2;
    for (const target of [[7, 11, 13], [2, 3, 3], [4, 6, 8]] as Vec3[]) {
      const out = resampleLabel(label, shape, target);
      expect(out.length).toBe(size(target));
      expect([...new Set(out)].sort()).toEqual([0, 2]);
    }
  });

  it('takes the label whose one-hot value is largest, background below 0.5', () => {
    // 1-D along x: [1, 1, 2, 2] -> 2 voxels: (1, 2); -> 1 voxel: tie 0.5/0.5 -> the higher label
    const shape: Vec3 = [1, 1, 4];
    expect(Array.from(resampleLabel(Uint8Array.from([1, 1, 2, 2]), shape, [1, 1, 2]))).toEqual([1, 2]);
    expect(Array.from(resampleLabel(Uint8Array.from([1, 1, 2, 2]), shape, [1, 1, 1]))).toEqual([2]);
    // 2x2 in-plane, four labels -> 1 voxel at the centre: each one-hot is 0.25 < 0.5 -> background
    expect(Array.from(resampleLabel(Uint8Array.from([1, 2, 3, 4]), [1, 2, 2], [1, 1, 1]))).toEqual([0]);
    // three of four corners labelled 1 -> 0.75 -> label 1
    expect(Array.from(resampleLabel(Uint8Array.from([1, 1, 1, 4]), [1, 2, 2], [1, 1, 1]))).toEqual([1]);
    // a single voxel vanishes when downsampled by 2 (nnU-Net does the same)
    const one = new Uint8Array(64);
    one[21] = 1;
    expect(resampleLabel(one, [4, 4, 4], [2, 2, 2]).every((v) => v === 0)).toBe(true);
  });

  it('preserves the volume of a grid-aligned block when halving the resolution', () => {
    const shape: Vec3 = [20, 20, 20];
    const label = new Uint8Array(size(shape));
    for (let z = 4; z < 14; z++) for (let y = 4; y < 16; y++) for (let x = 6; x < 14; x++) label[(z * 20 + y) * 20 + x] = 3;
    const out = resampleLabel(label, shape, [10, 10, 10]);
    const count = out.reduce((s, v) => s + (v === 3 ? 1 : 0), 0);
    expect(count * 8).toBe(10 * 12 * 8);
    expect(out[(3 * 10 + 3) * 10 + 4]).toBe(3);
    expect(out[(1 * 10 + 3) * 10 + 4]).toBe(0);
  });
});

describe('cubic spline resampling (order 3)', () => {
  it('interpolates: upsampling by 3 reproduces every input sample exactly where the grids meet', () => {
    const shape: Vec3 = [3, 4, 7];
    const data = Float32Array.from({ length: size(shape) }, (_, i) => Math.sin(i * 1.7) * 100);
    const target: Vec3 = [9, 12, 21];
    const out = resampleImage(data, shape, target, 3);
    // output o samples (o + 0.5) / 3 - 0.5, an input index when o = 3k + 1
    for (let z = 0; z < 3; z++) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 7; x++) {
          expect(out[((3 * z + 1) * 12 + (3 * y + 1)) * 21 + (3 * x + 1)]).toBeCloseTo(data[(z * 4 + y) * 7 + x], 3);
        }
      }
    }
  });

  it('keeps constants constant and clips to the input range (no overshoot past min/max)', () => {
    const shape: Vec3 = [4, 5, 6];
    expect(resampleImage(new Float32Array(size(shape)).fill(-7.5), shape, [7, 3, 11], 3).every((v) => Math.abs(v + 7.5) < 1e-5)).toBe(true);
    const step = Float32Array.from({ length: size(shape) }, (_, i) => (i % 6 < 3 ? 0 : 100));
    const out = resampleImage(step, shape, [4, 5, 23], 3);
    expect(Math.min(...out)).toBe(0);
    expect(Math.max(...out)).toBe(100);
    expect(out.some((v) => v > 0 && v < 100)).toBe(true);
  });

  it('separate z: the low-resolution axis is nearest-neighbour (slices are copied, never blended)', () => {
    const shape: Vec3 = [4, 6, 6];
    const data = Float32Array.from({ length: size(shape) }, (_, i) => Math.floor(i / 36) * 10 + ((i % 36) % 6));
    const out = resampleImage(data, shape, [10, 6, 6], 3, { separateAxis: 0 });
    const slices = new Set<number>();
    for (let z = 0; z < 10; z++) slices.add(out[z * 36]);
    expect([...slices].sort((a, b) => a - b)).toEqual([0, 10, 20, 30]);
  });
});

describe('planResampling (nnU-Net separate-z rule)', () => {
  it('separates the coarse axis when max/min spacing > 3, from the source or else the target', () => {
    expect(planResampling([26, 166, 164], [5, 0.7949, 0.7949], [1.5, 1, 1])).toEqual({ newShape: [87, 132, 130], separateAxis: 0 });
    expect(planResampling([20, 20, 20], [1, 1, 1], [4, 1, 1]).separateAxis).toBe(0);
    expect(planResampling([20, 20, 20], [1, 3.5, 1], [1, 1, 1]).separateAxis).toBe(1);
    expect(planResampling([20, 20, 20], [2, 1, 1], [1.5, 1, 1]).separateAxis).toBeNull();
    // two axes tie for coarsest: no separate z
    expect(planResampling([20, 20, 20], [4, 4, 1], [1, 1, 1]).separateAxis).toBeNull();
  });

  it('labels follow the same path: separate z copies whole label slices along the coarse axis', () => {
    const shape: Vec3 = [3, 4, 4];
    const label = new Uint8Array(size(shape));
    label.fill(2, 16, 32); // the middle slice
    const out = resampleLabel(label, shape, [9, 4, 4], { separateAxis: 0 });
    const perSlice = Array.from({ length: 9 }, (_, z) => out[z * 16]);
    expect(perSlice).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0]);
  });
});
