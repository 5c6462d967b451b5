/**
 * The WGSL programs of the project's fused ops on tfjs's `webgpu` backend, registered as the ops'
 * webgpu kernels (./fused_kernels.ts; the ops and their gradients: ../model/fused.ts,
 * ../loss/fused.ts). Same values and gradients as the host kernels, computed entirely by the
 * project's own compute programs (no host read-back, deterministic reductions without atomics).
 *
 * - ./fused_program.ts: program objects, uniforms, running a program and wrapping its output.
 * - ./fused_reduce.ts: the two-stage per-(sample, channel) reductions over voxels.
 * - ./fused_norm.ts: bias + InstanceNorm + LeakyReLU.
 * - ./fused_layout.ts: channel concat and split, bias add, depth-to-space + bias, the upsample filter
 *   layout, LeakyReLU(a + b).
 * - ./fused_loss.ts: the sigmoid Dice + BCE losses (MultiTalent, nnU-Net regions).
 */
export { makeWebGpuFusedKernels } from './fused_kernels.js';
