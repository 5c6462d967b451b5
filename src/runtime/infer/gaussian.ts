/**
 * nnU-Net's Gaussian importance map (pure): a delta at the tile centre (index floor(t / 2) per axis,
 * as `compute_gaussian` places it) blurred with sigma = tile / 8 per axis, i.e. the product of
 * exp(-(i - c)^2 / (2 sigma^2)) over the axes, scaled to a maximum of 1, zeros replaced by the
 * smallest positive value. (nnU-Net scales to 10 instead of 1 for fp16; the ratio of the weighted
 * sums, which is all inference uses, does not depend on the scale.)
 */
import type { Vec3 } from '../../graph/types.js';

/** sigma = tile * SIGMA_SCALE per axis (nnU-Net: 1/8). */
export const SIGMA_SCALE = 1 / 8;

/** Importance map [z, y, x], C order, maximum 1, every value > 0. */
export function gaussianImportance(tile: Vec3, sigmaScale = SIGMA_SCALE): Float32Array {
  const axes = tile.map((t) => {
    const sigma = t * sigmaScale;
    const c = Math.floor(t / 2);
    // scipy's gaussian_filter truncates the kernel at radius int(4 sigma + 0.5)
    const radius = Math.floor(4 * sigma + 0.5);
    return Float64Array.from({ length: t }, (_, i) => (Math.abs(i - c) > radius ? 0 : Math.exp(-((i - c) ** 2) / (2 * sigma * sigma))));
  });
  const [tz, ty, tx] = tile;
  const out = new Float32Array(tz * ty * tx);
  let minPositive = Infinity;
  for (let z = 0; z < tz; z++)
    for (let y = 0; y < ty; y++)
      for (let x = 0; x < tx; x++) {
        const v = axes[0][z] * axes[1][y] * axes[2][x];
        out[(z * ty + y) * tx + x] = v;
        if (v > 0 && v < minPositive) minPositive = v;
      }
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = minPositive;
  return out;
}

/** Uniform weights (no Gaussian weighting). */
export function uniformImportance(tile: Vec3): Float32Array {
  return new Float32Array(tile[0] * tile[1] * tile[2]).fill(1);
}
