/** Rotation (part of the spatial transform): an angle drawn per axis, about each listed axis. */
import { drawParameter } from './draw.js';
import type { SpatialTransformImpl } from './types.js';

export const rotation: SpatialTransformImpl = {
  stage: 'spatial',
  draw(t, into, rng, ctx) {
    // In-plane only for anisotropic patches (nnU-Net's dummy 2D): about z, the first axis.
    const axes = (t.axes ?? [0, 1, 2]).filter((a) => !ctx.dummy2d || a === 0);
    for (const a of axes) into.angles[a] = (drawParameter(t, rng) * Math.PI) / 180;
  },
};
