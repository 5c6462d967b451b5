/** Additive Gaussian noise, standard deviation drawn per sample (nnU-Net's noise_variance range is a std range). */
import { gaussianNoise } from '../../rng.js';
import { drawParameter } from './draw.js';
import type { PatchTransformImpl } from './types.js';

/** Up to this many voxels, every noise value is drawn on its own. */
const NOISE_TABLE = 65536;

export const noise: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    const std = drawParameter(t, rng);
    if (std === 0) return true;
    const img = patch.image;
    if (img.length <= NOISE_TABLE) {
      for (let i = 0; i < img.length; i++) img[i] += std * rng.normal();
      return true;
    }
    // Large patches: rng.ts's table-based Gaussian noise (exact normals, fast).
    const n = gaussianNoise(rng.asRng(), img.length);
    for (let i = 0; i < img.length; i++) img[i] += std * n[i];
    return true;
  },
};
