/** Contrast: (x - mean) * f + mean, clipped to the patch's range before the change (nnU-Net: preserve_range). */
import { drawParameter } from './draw.js';
import type { PatchTransformImpl } from './types.js';

export const contrast: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    const f = drawParameter(t, rng);
    const img = patch.image;
    let sum = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < img.length; i++) {
      const v = img[i];
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const mean = sum / img.length;
    for (let i = 0; i < img.length; i++) {
      const v = (img[i] - mean) * f + mean;
      img[i] = v < lo ? lo : v > hi ? hi : v;
    }
    return true;
  },
};
