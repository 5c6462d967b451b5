/** Gaussian blur: a separable Gaussian with sigma drawn per axis (nnU-Net v2: not synchronised across axes). */
import { drawParameter } from './draw.js';
import { convolveAxis, gaussianKernel } from './filters.js';
import type { PatchTransformImpl } from './types.js';

export const blur: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    const sigmas = [0, 1, 2].map(() => drawParameter(t, rng));
    let src: Float32Array = patch.image;
    let dst: Float32Array = new Float32Array(src.length);
    for (let axis = 0; axis < 3; axis++) {
      const k = gaussianKernel(sigmas[axis]);
      if (k.length === 1) continue;
      convolveAxis(src, dst, patch.shape, axis, k);
      [src, dst] = [dst, src];
    }
    if (src !== patch.image) patch.image.set(src);
    return true;
  },
};
