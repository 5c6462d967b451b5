/**
 * GPU (WebGPU / WGSL) versions of the fused U-Net element-wise ops and of the MultiTalent loss, for
 * tfjs's `webgpu` backend: same signatures, values and gradients as the host-memory versions in
 * ../model/fused.ts and ../loss/fused.ts, computed entirely by the project's own compute programs
 * (no host read-back, deterministic reductions without atomics).
 *
 * - ./fused_program.ts: program objects, uniforms, running a program and wrapping its output.
 * - ./fused_reduce.ts: the two-stage per-(sample, channel) reductions over voxels.
 * - ./fused_norm.ts: bias + InstanceNorm + LeakyReLU.
 * - ./fused_layout.ts: channel concat, bias add, depth-to-space + bias, upsample filter layout.
 * - ./fused_loss.ts: the MultiTalent loss.
 */
export { gpuBiasNormAct } from './fused_norm.js';
export { gpuAddBias, gpuConcatChannels, gpuDepthToSpaceBias, gpuUpsampleFilter } from './fused_layout.js';
export { gpuMultiTalentLoss, gpuSigmoidDiceBce } from './fused_loss.js';
