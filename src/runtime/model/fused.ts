import * as tf from '@tensorflow/tfjs';
import { modelHostKernels, registerKernels } from '../kernels/fused_cpu.js';
import {
  ADD_BIAS, BIAS_NORM_ACT, BIAS_NORM_ACT_GRAD, COLUMN_SUMS, CONCAT_CHANNELS, DEPTH_TO_SPACE_BIAS, DEPTH_TO_SPACE_BIAS_GRAD,
  RESIDUAL_ACT, RESIDUAL_ACT_GRAD, SPLIT_CHANNELS, UPSAMPLE_FILTER, UPSAMPLE_FILTER_GRAD,
  type BiasNormActAttrs, type DepthToSpaceAttrs, type ResidualActAttrs, type SplitChannelsAttrs, type UpsampleFilterGradAttrs,
} from '../kernels/fused_names.js';

/**
 * The U-Net's fused ops, as tfjs's own fused ops are built: each op is one named kernel
 * (../kernels/fused_names.ts) with one registered gradient (itself a named kernel), and the
 * backends register their implementations under those names: host-memory passes for 'cpu' and
 * 'wasm' (../kernels/fused_cpu.ts, registered when this module loads), WGSL programs for 'webgpu'
 * (../webgpu/fused_kernels.ts, registered with the other webgpu kernels). The op checks its
 * arguments once, runs the kernel registered for the active backend, and on a backend without one
 * (the native TensorFlow binding) computes the same with a composition of tfjs ops.
 *
 * Why fused: tfjs's cpu backend runs every broadcasting binary op, reduction over non-innermost
 * axes, transpose and channel split through a generic per-element index computation, which made the
 * bias + InstanceNorm + LeakyReLU chain and the skip concatenation cost more than the convolutions
 * themselves; the fused kernels are single passes (native and multi-threaded when built).
 * Convolutions stay tf.conv3d, so backend kernels for it plug in unchanged.
 */

registerKernels(modelHostKernels());

let fusedMode: 'auto' | 'on' | 'off' = 'auto';

/**
 * 'off' computes every fused op with its tfjs composition on every backend (tests compare both);
 * 'on' and 'auto' use the registered kernels. For the optimisers' host paths see useFusedOps.
 */
export function setFusedOps(mode: 'auto' | 'on' | 'off'): void {
  fusedMode = mode;
}

/** True when the active backend has the fused kernel `name` and fused ops are not switched off. */
export function hasFusedKernel(name: string): boolean {
  return fusedMode !== 'off' && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * True when tensors live in JavaScript memory (cpu, wasm) and host passes over their values are the
 * faster choice (the optimisers' host paths); 'on' forces them on other backends too, 'off' never.
 */
export function useFusedOps(): boolean {
  const b = tf.getBackend();
  if (b === 'webgpu') return false;
  if (fusedMode !== 'auto') return fusedMode === 'on';
  return b === 'cpu' || b === 'wasm';
}

/** True on the webgpu backend unless fused ops are off (its fused kernels are WGSL programs). */
export function useGpuFusedOps(): boolean {
  return tf.getBackend() === 'webgpu' && fusedMode !== 'off';
}

/** The tensor's float32 values (a copy only when the backend stores another array type). */
export function values(t: tf.Tensor): Float32Array {
  const v = t.dataSync();
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/** Runs the fused kernel `name` of the active backend; its outputs as an array. */
export function runFusedKernel(name: string, inputs: tf.NamedTensorMap, attrs: object = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/** The first of a gradient's dys (the others, of outputs saved only for the gradient, are zeros). */
export function firstDy(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(dy) ? dy[0] : dy;
}

const run = runFusedKernel;
const first = firstDy;

// ---------------------------------------------------------------------------------------------
// bias + InstanceNorm + LeakyReLU

/**
 * Instance normalisation: per sample and per channel over the spatial axes, biased variance (as
 * PyTorch's InstanceNorm3d), then the affine `scale`/`offset` per channel.
 */
export function instanceNorm(x: tf.Tensor5D, scale: tf.Tensor1D, offset: tf.Tensor1D, eps: number): tf.Tensor5D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2, 3], true);
    const inv = tf.rsqrt(tf.add(variance, eps));
    const normed = tf.mul(tf.sub(x, mean), inv);
    return tf.add(tf.mul(normed, scale), offset) as tf.Tensor5D;
  });
}

/**
 * y = LeakyReLU(InstanceNorm(x + bias) * scale + offset), per sample and channel over the spatial
 * axes of channels-last `x` [B, z, y, x, C]; biased variance, `eps` inside the square root;
 * `slope` 1: no activation (a residual block's end).
 */
export function biasNormAct(x: tf.Tensor5D, bias: tf.Tensor1D, scale: tf.Tensor1D, offset: tf.Tensor1D, eps: number, slope: number): tf.Tensor5D {
  const C = x.shape[4];
  for (const [name, t] of [['bias', bias], ['scale', scale], ['offset', offset]] as const) {
    if (t.size !== C) throw new Error(`bias-norm-act: ${name} has ${t.size} values for ${C} channels`);
  }
  if (!hasFusedKernel(BIAS_NORM_ACT)) {
    return tf.tidy(() => {
      const normed = instanceNorm(tf.add(x, bias) as tf.Tensor5D, scale, offset, eps);
      return slope === 1 ? normed : (tf.leakyRelu(normed, slope) as tf.Tensor5D);
    });
  }
  const attrs: BiasNormActAttrs = { eps, slope };
  const [y, stats] = run(BIAS_NORM_ACT, { x, bias, scale, offset }, attrs);
  stats.dispose(); // saved for the gradient by the tape (a kept clone) when one is recorded
  return y as tf.Tensor5D;
}

tf.registerGradient({
  kernelName: BIAS_NORM_ACT,
  inputsToSave: ['x', 'scale', 'offset'],
  outputsToSave: [true, true],
  gradFunc: (dy, saved, attrs) => {
    const [x, scale, offset, y, stats] = saved;
    const [dx, dbias, dscale, doffset] = run(BIAS_NORM_ACT_GRAD, { dy: first(dy), x, y, scale, offset, stats }, { slope: (attrs as unknown as BiasNormActAttrs).slope });
    return { x: () => dx, bias: () => dbias, scale: () => dscale, offset: () => doffset };
  },
});

// ---------------------------------------------------------------------------------------------
// Channel concatenation

/**
 * Sizes of the channel concatenation [a | b] of two channels-last 5-D tensors: voxels n and channels
 * Ca, Cb, C = Ca + Cb. Throws when a and b differ outside the channel axis.
 */
export function concatDims(a: tf.Tensor, b: tf.Tensor): { n: number; Ca: number; Cb: number; C: number } {
  const Ca = a.shape[4] as number;
  const Cb = b.shape[4] as number;
  if (a.shape.slice(0, 4).join(',') !== b.shape.slice(0, 4).join(',')) {
    throw new Error(`concat: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ outside the channel axis`);
  }
  return { n: a.size / Ca, Ca, Cb, C: Ca + Cb };
}

/** Concatenation of two channels-last tensors along the last axis; gradient: the two channel slices. */
export function concatChannels(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  const { Ca } = concatDims(a, b);
  if (!hasFusedKernel(CONCAT_CHANNELS)) return tf.concat([a, b], 4) as tf.Tensor5D;
  const attrs: SplitChannelsAttrs = { channels: Ca };
  return run(CONCAT_CHANNELS, { a, b }, attrs)[0] as tf.Tensor5D;
}

tf.registerGradient({
  kernelName: CONCAT_CHANNELS,
  gradFunc: (dy, _saved, attrs) => {
    const [da, db] = run(SPLIT_CHANNELS, { dy: first(dy) }, { channels: (attrs as unknown as SplitChannelsAttrs).channels });
    return { a: () => da, b: () => db };
  },
});

// ---------------------------------------------------------------------------------------------
// Bias add

/** x [N, C] + bias [C] (row-broadcast add); gradients dy and its column sums. */
export function addBias(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (bias.size !== x.shape[1]) throw new Error(`add-bias: ${bias.size} bias values for ${x.shape[1]} channels`);
  if (!hasFusedKernel(ADD_BIAS)) return tf.add(x, bias) as tf.Tensor2D;
  return run(ADD_BIAS, { x, bias })[0] as tf.Tensor2D;
}

tf.registerGradient({
  kernelName: ADD_BIAS,
  gradFunc: (dy) => {
    const g = first(dy);
    return { x: () => tf.clone(g), bias: () => run(COLUMN_SUMS, { x: g })[0] };
  },
});

// ---------------------------------------------------------------------------------------------
// Depth-to-space + bias (a kernel = stride transposed convolution after its projection)

/**
 * Depth-to-space plus a per-channel bias, for a kernel=stride transposed conv: `x`
 * [B, D, H, W, sz*sy*sx*C] laid out as [..., sz, sy, sx, C] becomes [B, D*sz, H*sy, W*sx, C] + bias.
 * Gradient: the inverse rearrangement, and the channel sums for the bias.
 */
export function depthToSpaceBias(x: tf.Tensor5D, bias: tf.Tensor1D, stride: [number, number, number]): tf.Tensor5D {
  const [sz, sy, sx] = stride;
  const [B, D, H, W, K] = x.shape;
  const C = K / (sz * sy * sx);
  if (!Number.isInteger(C) || bias.shape[0] !== C) {
    throw new Error(`depth-to-space: ${K} channels do not split into [${stride.join(', ')}] blocks of ${bias.shape[0]}`);
  }
  if (hasFusedKernel(DEPTH_TO_SPACE_BIAS)) {
    const attrs: DepthToSpaceAttrs = { stride: [sz, sy, sx] };
    return run(DEPTH_TO_SPACE_BIAS, { x, bias }, attrs)[0] as tf.Tensor5D;
  }
  return tf.tidy(() => {
    // [b, d, h, w, sz, sy, sx, C] -> [b, d, sz, h, sy, w, sx, C]; axes whose stride is 1 stay out of
    // the transpose to keep its rank small.
    const blocks: { axis: number; size: number }[] = [];
    stride.forEach((s, i) => {
      if (s > 1) blocks.push({ axis: i, size: s });
    });
    const reshaped = tf.reshape(x, [B, D, H, W, ...blocks.map((bl) => bl.size), C]);
    const perm: number[] = [0];
    for (let axis = 0; axis < 3; axis++) {
      perm.push(1 + axis);
      const j = blocks.findIndex((bl) => bl.axis === axis);
      if (j >= 0) perm.push(4 + j);
    }
    perm.push(4 + blocks.length);
    const y = tf.reshape(tf.transpose(reshaped, perm), [B * D * sz * H * sy * W * sx, C]) as tf.Tensor2D;
    return tf.reshape(addBias(y, bias), [B, D * sz, H * sy, W * sx, C]) as tf.Tensor5D;
  });
}

tf.registerGradient({
  kernelName: DEPTH_TO_SPACE_BIAS,
  gradFunc: (dy, _saved, attrs) => {
    const [dx, dbias] = run(DEPTH_TO_SPACE_BIAS_GRAD, { dy: first(dy) }, { stride: (attrs as unknown as DepthToSpaceAttrs).stride });
    return { x: () => dx, bias: () => dbias };
  },
});

// ---------------------------------------------------------------------------------------------
// The transposed-conv weight as a 1x1x1 conv filter

/**
 * The transposed-conv weight [sz, sy, sx, out, in] rearranged as the 1x1x1 conv filter
 * [1, 1, 1, in, sz*sy*sx*out] of the projection (see layers.ts `upsample`); gradient: the inverse.
 */
export function upsampleFilter(weight: tf.Tensor5D): tf.Tensor5D {
  const [sz, sy, sx, cout, cin] = weight.shape;
  if (!hasFusedKernel(UPSAMPLE_FILTER)) {
    return tf.tidy(() => tf.reshape(tf.transpose(weight, [4, 0, 1, 2, 3]), [1, 1, 1, cin, sz * sy * sx * cout]) as tf.Tensor5D);
  }
  const attrs: UpsampleFilterGradAttrs = { weightShape: [sz, sy, sx, cout, cin] };
  return run(UPSAMPLE_FILTER, { weight }, attrs)[0] as tf.Tensor5D;
}

tf.registerGradient({
  kernelName: UPSAMPLE_FILTER,
  gradFunc: (dy, _saved, attrs) => {
    const [dw] = run(UPSAMPLE_FILTER_GRAD, { dy: first(dy) }, { weightShape: (attrs as unknown as UpsampleFilterGradAttrs).weightShape });
    return { weight: () => dw };
  },
});

// ---------------------------------------------------------------------------------------------
// LeakyReLU(a + b)

/**
 * LeakyReLU(a + b) of same-shape tensors (the end of a residual block) as one pass, with the
 * gradient dy * (a + b > 0 ? 1 : slope) for both inputs computed in one pass too.
 */
export function residualAct(a: tf.Tensor5D, b: tf.Tensor5D, slope: number): tf.Tensor5D {
  if (a.shape.join(',') !== b.shape.join(',')) {
    throw new Error(`residual sum: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
  if (!hasFusedKernel(RESIDUAL_ACT)) return tf.tidy(() => tf.leakyRelu(tf.add(a, b), slope) as tf.Tensor5D);
  const attrs: ResidualActAttrs = { slope };
  return run(RESIDUAL_ACT, { a, b }, attrs)[0] as tf.Tensor5D;
}

tf.registerGradient({
  kernelName: RESIDUAL_ACT,
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [dz] = run(RESIDUAL_ACT_GRAD, { y: saved[0], dy: first(dy) }, { slope: (attrs as unknown as ResidualActAttrs).slope });
    // both inputs receive the same gradient: one tensor, cloned for the second slot
    return { a: () => dz, b: () => tf.clone(dz) };
  },
});

// Names of the ops' kernels, for callers that audit what ran.
export { FUSED_KERNEL_NAMES } from '../kernels/fused_names.js';
