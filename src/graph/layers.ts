import type { ArchitectureSpec, LayerConventions } from './types.js';

/**
 * mtc's own layer conventions: what every network trained by mtc uses. Imported nnU-Net networks
 * record theirs (PyTorch's symmetric padding, v2's avg-pool residual skip, v1's bias-free
 * transposed and output convolutions), so that mtc computes exactly what PyTorch computes.
 */
export const MTC_LAYERS: Readonly<LayerConventions> = Object.freeze({
  padding: 'end',
  residualSkip: 'strided_conv',
  convBias: true,
  upsampleBias: true,
  headBias: true,
  decoderKernels: 'stage',
});

/** The layer conventions of an architecture (absent in graphs and checkpoints written before they existed: mtc's own). */
export function layersOf(arch: Pick<ArchitectureSpec, 'layers'>): LayerConventions {
  return { ...MTC_LAYERS, ...arch.layers };
}
