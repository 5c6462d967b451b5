/** Scaling (part of the spatial transform): one zoom factor for all axes (nnU-Net: synchronised across axes). */
import { drawParameter } from './draw.js';
import type { SpatialTransformImpl } from './types.js';

export const scaling: SpatialTransformImpl = {
  stage: 'spatial',
  draw(t, into, rng, ctx) {
    const s = drawParameter(t, rng);
    into.scales = ctx.dummy2d ? [1, s, s] : [s, s, s];
  },
};
