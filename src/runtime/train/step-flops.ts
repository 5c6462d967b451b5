import type { Vec3 } from '../../graph/types.js';

/** FLOPs of forward + input gradient + filter gradient of one convolution: 3 * 2 * outVox * Cin * Cout * taps. */
export function convStepFlops(outVoxels: number, cin: number, cout: number, taps: number): number {
  return 3 * 2 * outVoxels * cin * cout * taps;
}

/** Voxels (times the batch) at each stage's resolution: stage 0 the patch, then halved per stage. */
function stageVoxels(stages: number, batch: number, patch: Vec3): number[] {
  let size = [...patch];
  return Array.from({ length: stages }, (_, i) => {
    if (i > 0) size = size.map((s) => Math.floor(s / 2));
    return batch * size[0] * size[1] * size[2];
  });
}

/** The decoder (kernel=stride transposed convs, 8 taps per input voxel, and conv units) and the 1x1x1 head. */
function decoderAndHeadFlops(features: readonly number[], voxels: readonly number[], classes: number, convsPerStage: number): number {
  let total = 0;
  for (let i = features.length - 2; i >= 0; i--) {
    const f = features[i];
    total += convStepFlops(voxels[i + 1], features[i + 1], 8 * f, 1);
    for (let j = 0; j < convsPerStage; j++) total += convStepFlops(voxels[i], j === 0 ? 2 * f : f, f, 27);
  }
  return total + convStepFlops(voxels[0], features[0], classes, 1);
}

/**
 * Convolution FLOPs of one training step of the plain U-Net of model/unet.ts (isotropic 3x3x3
 * kernels, stage 0 stride 1, then stride 2, `convsPerStage` units per stage): every conv, every
 * kernel=stride transposed conv (8 taps per input voxel) and the 1x1x1 head, forward and both
 * gradients. Element-wise work is not counted. bench/pytorch_reference.py's step_flops is the same.
 */
export function unetStepFlops(features: readonly number[], classes: number, batch: number, patch: Vec3, convsPerStage = 2): number {
  const voxels = stageVoxels(features.length, batch, patch);
  let total = 0;
  features.forEach((f, i) => {
    for (let j = 0; j < convsPerStage; j++) total += convStepFlops(voxels[i], j === 0 ? (i === 0 ? 1 : features[i - 1]) : f, f, 27);
  });
  return total + decoderAndHeadFlops(features, voxels, classes, convsPerStage);
}

/**
 * The same count for the residual-encoder U-Net (model/unet.ts, kind resenc_unet): the stem, per
 * block two convolutions plus the 1x1x1 projection skip where one is needed, the plain decoder with
 * `convsPerStage` (1) units per stage, and the head. pytorch_reference.py's step_flops agrees.
 */
export function resencStepFlops(features: readonly number[], blocks: readonly number[], classes: number, batch: number, patch: Vec3, convsPerStage = 1): number {
  const voxels = stageVoxels(features.length, batch, patch);
  let total = convStepFlops(voxels[0], 1, features[0], 27); // stem
  features.forEach((f, i) => {
    for (let j = 0; j < blocks[i]; j++) {
      const cin = j > 0 ? f : i === 0 ? features[0] : features[i - 1];
      total += convStepFlops(voxels[i], cin, f, 27) + convStepFlops(voxels[i], f, f, 27);
      if (j === 0 && (cin !== f || i > 0)) total += convStepFlops(voxels[i], cin, f, 1);
    }
  });
  return total + decoderAndHeadFlops(features, voxels, classes, convsPerStage);
}
