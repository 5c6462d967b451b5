/** Multiplicative brightness: the image times a factor (nnU-Net v2's MultiplicativeBrightnessTransform with BGContrast). */
import { drawParameter } from './draw.js';
import type { PatchTransformImpl } from './types.js';

export const brightness: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    const f = drawParameter(t, rng);
    const img = patch.image;
    for (let i = 0; i < img.length; i++) img[i] *= f;
    return true;
  },
};
