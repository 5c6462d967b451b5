/**
 * Network topology from patch and spacing, the way nnU-Net derives it: an axis is halved at a stage
 * while its size is at least 8 voxels and its spacing is less than twice the finest spacing; a
 * kernel is 3 on an axis, or 1 while that axis is at least twice as coarse as the finest one.
 */
import type { Vec3 } from '../../graph/types.js';

/** An axis is halved while its current size is at least this. */
export const MIN_SIZE_TO_DOWNSAMPLE = 8;
/** An axis whose spacing is at least this many times the finest is not halved (and gets kernel 1). */
export const ANISOTROPY_RATIO = 2;

export interface Topology {
  strides: Vec3[];
  kernels: Vec3[];
}

function stepOf(size: number[], spacing: number[]): Vec3 {
  const finest = Math.min(...spacing);
  const s = size.map((n, a) => (n >= MIN_SIZE_TO_DOWNSAMPLE && spacing[a] < ANISOTROPY_RATIO * finest ? 2 : 1));
  return [s[0], s[1], s[2]];
}

function kernelOf(spacing: number[]): Vec3 {
  const finest = Math.min(...spacing);
  const k = spacing.map((sp) => (sp >= ANISOTROPY_RATIO * finest ? 1 : 3));
  return [k[0], k[1], k[2]];
}

/**
 * Strides and kernels for `stages` stages (null: as many as the patch allows, i.e. until no axis
 * can be halved). Stage 0 has stride [1, 1, 1]. Spacing defaults to isotropic.
 */
export function deriveTopology(patch: Vec3, spacing: Vec3 = [1, 1, 1], stages: number | null = null): Topology {
  const size = [...patch];
  const sp = [...spacing];
  const strides: Vec3[] = [[1, 1, 1]];
  const kernels: Vec3[] = [kernelOf(sp)];
  for (let s = 1; stages === null ? s < 64 : s < stages; s++) {
    const stride = stepOf(size, sp);
    if (stages === null && stride.every((v) => v === 1)) break;
    for (let a = 0; a < 3; a++) {
      size[a] = size[a] / stride[a];
      sp[a] = sp[a] * stride[a];
    }
    strides.push(stride);
    kernels.push(kernelOf(sp));
  }
  return { strides, kernels };
}

/** Default strides: see deriveTopology. */
export function deriveStrides(patch: Vec3, stages: number, spacing: Vec3 = [1, 1, 1]): Vec3[] {
  return deriveTopology(patch, spacing, stages).strides;
}

/** nnU-Net's feature maps per stage: min(base * 2^stage, max). */
export function defaultFeatures(stages: number, base = 32, max = 320): number[] {
  return Array.from({ length: stages }, (_, i) => Math.min(base * 2 ** i, max));
}
