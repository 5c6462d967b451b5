/** Additive Gaussian noise, standard deviation drawn per sample (nnU-Net's noise_variance range is a std range). */
import { gaussianNoise } from '../../rng.js';
import { drawParameter } from './draw.js';
import type { PatchTransformImpl } from './types.js';

export const noise: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    const std = drawParameter(t, rng);
    if (std === 0) return true;
    const n = gaussianNoise(rng.asRng(), patch.image.length);
    const img = patch.image;
    for (let i = 0; i < img.length; i++) img[i] += std * n[i];
    return true;
  },
};
