/**
 * Elastic deformation (part of the spatial transform), after nnU-Net v2's SpatialTransform: per axis
 * d, white noise over the patch smoothed by a Gaussian whose sigma is a random 0-20 % of the patch
 * edge along d, scaled so that its largest displacement is a magnitude drawn from the range
 * (voxels). The smoothing is three box passes with that variance (v2 smooths in Fourier space).
 * For anisotropic patches (dummy 2D) the field is in-plane: y and x only, the same on every slice.
 */
import type { Vec3 } from '../../../graph/types.js';
import { gaussianNoise, type Prng } from '../../rng.js';
import { drawParameter } from './draw.js';
import { boxFilterAxis, boxRadiiForGaussian } from './filters.js';
import type { SpatialTransformImpl } from './types.js';

/** Largest deformation scale: sigma of the smoothing as a fraction of the patch edge (batchgeneratorsv2's default (0, 0.2)). */
export const ELASTIC_MAX_SCALE = 0.2;

/** A smooth random field over `shape`: white noise smoothed isotropically by `sigma` voxels, max |value| = magnitude. */
export function smoothField(shape: Vec3, sigma: number, magnitude: number, rng: Prng): Float32Array {
  const n = shape[0] * shape[1] * shape[2];
  let field: Float32Array = gaussianNoise(rng.asRng(), n);
  let tmp: Float32Array = new Float32Array(n);
  const radii = boxRadiiForGaussian(sigma);
  for (let axis = 0; axis < 3; axis++) {
    if (shape[axis] === 1) continue;
    for (const r of radii) {
      if (r === 0) continue;
      boxFilterAxis(field, tmp, shape, axis, r);
      [field, tmp] = [tmp, field];
    }
  }
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(field[i]));
  const f = peak > 0 ? magnitude / peak : 0;
  for (let i = 0; i < n; i++) field[i] *= f;
  return field;
}

export const elastic: SpatialTransformImpl = {
  stage: 'spatial',
  draw(t, into, rng, ctx) {
    const [Z, Y, X] = ctx.patch;
    const fieldShape: Vec3 = ctx.dummy2d ? [1, Y, X] : [Z, Y, X];
    const fields: [Float32Array | null, Float32Array | null, Float32Array | null] = [null, null, null];
    for (let axis = ctx.dummy2d ? 1 : 0; axis < 3; axis++) {
      const scale = rng.next() * ELASTIC_MAX_SCALE;
      const magnitude = drawParameter(t, rng);
      fields[axis] = smoothField(fieldShape, scale * ctx.patch[axis], magnitude, rng);
    }
    into.displacement = fields;
  },
};
