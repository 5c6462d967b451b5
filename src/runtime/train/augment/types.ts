/**
 * What the augmentation transforms share: the patch they act on, the run-wide context, and the two
 * kinds of implementation (a part of the spatial transform, or an in-place patch transform).
 */
import type { TransformKind } from '../../../graph/transforms.js';
import type { AugmentTransform, Vec3 } from '../../../graph/types.js';
import type { Prng } from '../../rng.js';

/** One sample's patch: one image channel and its label map (the dataset's label values), C-ordered over `shape` [z, y, x]. */
export interface Patch {
  image: Float32Array;
  label: Uint8Array;
  shape: Vec3;
}

/** Fixed for a training run. */
export interface AugmentContext {
  /** Patch shape [z, y, x]. */
  patch: Vec3;
  /** nnU-Net's dummy 2D rule (graph/transforms.ts isDummy2d): spatial transforms in-plane only, low resolution leaves z alone. */
  dummy2d: boolean;
}

/**
 * The spatial transform of one sample, which rotation, scaling and elastic deformation build up:
 * patch voxel i is read from the case at M (i - (patch - 1) / 2 + d(i) - mean(d)) + centre, with
 * M = Rz(angles[2]) Ry(angles[1]) Rx(angles[0]) diag(scales) (nnU-Net v2's create_affine_matrix_3d,
 * axis 0 = z) and d the elastic displacement (voxels, per axis).
 */
export interface SpatialDraw {
  /** Rotation about z, y, x, radians. */
  angles: [number, number, number];
  /** Zoom per axis (> 1: a larger field of view). */
  scales: [number, number, number];
  /** Elastic displacement per axis (patch-shaped, voxels), or null. */
  displacement: [Float32Array | null, Float32Array | null, Float32Array | null] | null;
}

export function identityDraw(): SpatialDraw {
  return { angles: [0, 0, 0], scales: [1, 1, 1], displacement: null };
}

/** Rotation, scaling, elastic: adds its part to the sample's spatial draw (called when the transform applies). */
export interface SpatialTransformImpl {
  stage: 'spatial';
  draw(t: AugmentTransform, into: SpatialDraw, rng: Prng, ctx: AugmentContext): void;
}

/** Intensity transforms and mirroring: change the patch in place. */
export interface PatchTransformImpl {
  stage: 'intensity' | 'mirror';
  /** Applies the transform (its probability already drawn, for `intensity`); returns whether it changed the patch. */
  apply(t: AugmentTransform, patch: Patch, rng: Prng, ctx: AugmentContext): boolean;
}

export type TransformImpl = SpatialTransformImpl | PatchTransformImpl;

export type TransformRegistry = ReadonlyMap<TransformKind, TransformImpl>;
