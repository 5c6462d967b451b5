import type { Vec3 } from '../../graph/types.js';

/** FLOPs of forward + input gradient + filter gradient of one convolution: 3 * 2 * outVox * Cin * Cout * taps. */
export function convStepFlops(outVoxels: number, cin: number, cout: number, taps: number): number {
  return 3 * 2 * outVoxels * cin * cout * taps;
}

/**
 * Convolution FLOPs of one training step of the plain U-Net of model/unet.ts (isotropic 3x3x3
 * kernels, stage 0 stride 1, then stride 2, `convsPerStage` units per stage): every conv, every
 * kernel=stride transposed conv (8 taps per input voxel) and the 1x1x1 head, forward and both
 * gradients. Element-wise work is not counted. bench/pytorch_reference.py's step_flops is the same.
 */
export function unetStepFlops(features: readonly number[], classes: number, batch: number, patch: Vec3, convsPerStage = 2): number {
  let total = 0;
  let size = [...patch];
  let cin = 1;
  const voxels: number[] = [];
  features.forEach((f, i) => {
    if (i > 0) size = size.map((s) => Math.floor(s / 2));
    const vox = batch * size[0] * size[1] * size[2];
    voxels.push(vox);
    for (let j = 0; j < convsPerStage; j++) total += convStepFlops(vox, j === 0 ? cin : f, f, 27);
    cin = f;
  });
  for (let i = features.length - 2; i >= 0; i--) {
    const f = features[i];
    total += convStepFlops(voxels[i + 1], features[i + 1], 8 * f, 1);
    for (let j = 0; j < convsPerStage; j++) total += convStepFlops(voxels[i], j === 0 ? 2 * f : f, f, 27);
  }
  total += convStepFlops(voxels[0], features[0], classes, 1);
  return total;
}

/**
 * The same count for the residual-encoder U-Net (model/unet.ts, kind resenc_unet): the stem, per
 * block two convolutions plus the 1x1x1 projection skip where one is needed, the plain decoder with
 * `convsPerStage` (1) units per stage, and the head. pytorch_reference.py's resenc_step_flops agrees.
 */
export function resencStepFlops(features: readonly number[], blocks: readonly number[], classes: number, batch: number, patch: Vec3, convsPerStage = 1): number {
  let total = 0;
  let size = [...patch];
  const voxels: number[] = [];
  features.forEach((f, i) => {
    if (i > 0) size = size.map((s) => Math.floor(s / 2));
    const vox = batch * size[0] * size[1] * size[2];
    voxels.push(vox);
    if (i === 0) total += convStepFlops(vox, 1, f, 27); // stem
    for (let j = 0; j < blocks[i]; j++) {
      const cin = j > 0 ? f : i === 0 ? features[0] : features[i - 1];
      total += convStepFlops(vox, cin, f, 27) + convStepFlops(vox, f, f, 27);
      if (j === 0 && (cin !== f || i > 0)) total += convStepFlops(vox, cin, f, 1);
    }
  });
  for (let i = features.length - 2; i >= 0; i--) {
    const f = features[i];
    total += convStepFlops(voxels[i + 1], features[i + 1], 8 * f, 1);
    for (let j = 0; j < convsPerStage; j++) total += convStepFlops(voxels[i], j === 0 ? 2 * f : f, f, 27);
  }
  total += convStepFlops(voxels[0], features[0], classes, 1);
  return total;
}
