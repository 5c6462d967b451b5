import * as tf from '@tensorflow/tfjs';
import { normActBackward, normActForward } from '../kernels/host_ops.js';
import {
  addBiasHost,
  columnSumsHost,
  concatChannelsHost,
  depthToSpaceBiasGradHost,
  depthToSpaceBiasHost,
  residualActGradHost,
  residualActHost,
  splitChannelsHost,
} from '../kernels/layout_ops.js';

/**
 * Fused element-wise parts of the U-Net, computed in JavaScript on the tensors' values with
 * hand-written gradients (tf.customGrad).
 *
 * Why: tfjs's cpu backend runs every broadcasting binary op, reduction over non-innermost axes,
 * transpose and channel split through a generic per-element index computation, which made the
 * bias + InstanceNorm + LeakyReLU chain and the skip concatenation cost more than the convolutions
 * themselves. These fused versions are single linear passes. They are only used on backends whose
 * tensors live in JavaScript memory (cpu, wasm: reading values back is a copy at most); other
 * backends (native TensorFlow) use the equivalent composition of tfjs ops in ./layers.ts.
 * Convolutions stay tf.conv3d, so backend kernels for it plug in unchanged.
 */

let fusedMode: 'auto' | 'on' | 'off' = 'auto';

/** Overrides the automatic choice (tests compare both implementations; 'auto' restores it). */
export function setFusedOps(mode: 'auto' | 'on' | 'off'): void {
  fusedMode = mode;
}

/** True when the fused JavaScript implementations are the faster choice on the active backend. */
export function useFusedOps(): boolean {
  const b = tf.getBackend();
  if (b === 'webgpu') return false;
  if (fusedMode !== 'auto') return fusedMode === 'on';
  return b === 'cpu' || b === 'wasm';
}

/**
 * True on the webgpu backend, where the same fused ops run as WGSL programs (src/runtime/webgpu/fused.ts)
 * and the tensors never leave the GPU; 'off' selects the plain tfjs composition there too.
 */
export function useGpuFusedOps(): boolean {
  return tf.getBackend() === 'webgpu' && fusedMode !== 'off';
}

/** The tensor's float32 values (a copy only when the backend stores another array type). */
export function values(t: tf.Tensor): Float32Array {
  const v = t.dataSync();
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

type OpResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor[] };

/** tf.customGrad with a fixed number of tensor inputs (tfjs types the inputs loosely). */
function customOp(body: (inputs: tf.Tensor[]) => OpResult): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) =>
    body(args.filter((a): a is tf.Tensor => a instanceof tf.Tensor)),
  );
}

/**
 * y = LeakyReLU(InstanceNorm(x + bias) * scale + offset), per sample and channel over the spatial
 * axes of channels-last `x` [B, z, y, x, C]; biased variance, `eps` inside the square root.
 */
export function fusedBiasNormAct(
  x: tf.Tensor5D,
  bias: tf.Tensor1D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  eps: number,
  slope: number,
): tf.Tensor5D {
  const op = customOp(([xi, bi, si, oi]) => {
    const [B, D, H, W, C] = xi.shape;
    const dims = { B, N: D * H * W, C };
    const xv = values(xi);
    const sv = values(si);
    // The bias shifts x and its per-instance mean alike, so it cancels out of the value (its
    // gradient is sum(dx), which the backward pass returns); it stays an input for the tape.
    void bi;
    const fwd = normActForward(xv, sv, values(oi), dims, eps, slope);
    const value = tf.tensor(fwd.y, xi.shape, 'float32');
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = normActBackward(xv, fwd, values(dy), sv, dims, slope);
      return [
        tf.tensor(g.dx, xi.shape, 'float32'),
        tf.tensor(g.dbias, [C], 'float32'),
        tf.tensor(g.dscale, [C], 'float32'),
        tf.tensor(g.doffset, [C], 'float32'),
      ];
    };
    return { value, gradFunc };
  });
  return op(x, bias, scale, offset) as tf.Tensor5D;
}

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

/** Concatenation of two channels-last tensors along the last axis, with a single-pass split as gradient. */
export function fusedConcatChannels(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  const op = customOp(([ai, bi]) => {
    const { n, Ca, Cb, C } = concatDims(ai, bi);
    const out = concatChannelsHost(values(ai), values(bi), n, Ca, Cb);
    const shape = [...ai.shape.slice(0, 4), C];
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const [ga, gb] = splitChannelsHost(values(dy), n, Ca, Cb);
      return [tf.tensor(ga, ai.shape, 'float32'), tf.tensor(gb, bi.shape, 'float32')];
    };
    return { value: tf.tensor(out, shape, 'float32'), gradFunc };
  });
  return op(a, b) as tf.Tensor5D;
}

/** x [N, C] + bias [C] (row-broadcast add) with the column sum as the bias gradient. */
export function fusedAddBias(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const op = customOp(([xi, bi]) => {
    const [N, C] = xi.shape;
    const out = addBiasHost(values(xi), values(bi), N, C);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => [tf.clone(dy), tf.tensor(columnSumsHost(values(dy), N, C), [C], 'float32')];
    return { value: tf.tensor(out, xi.shape, 'float32'), gradFunc };
  });
  return op(x, bias) as tf.Tensor2D;
}

/**
 * Depth-to-space plus a per-channel bias, for a kernel=stride transposed conv: `x`
 * [B, D, H, W, sz*sy*sx*C] laid out as [..., sz, sy, sx, C] becomes [B, D*sz, H*sy, W*sx, C] + bias.
 * Gradient: the inverse rearrangement, and the channel sums for the bias.
 */
export function fusedDepthToSpaceBias(x: tf.Tensor5D, bias: tf.Tensor1D, stride: [number, number, number]): tf.Tensor5D {
  const [sz, sy, sx] = stride;
  const op = customOp(([xi, bi]) => {
    const [B, D, H, W, K] = xi.shape;
    const C = K / (sz * sy * sx);
    if (!Number.isInteger(C) || bi.shape[0] !== C) {
      throw new Error(`depth-to-space: ${K} channels do not split into [${stride.join(', ')}] blocks of ${bi.shape[0]}`);
    }
    const outShape = [B, D * sz, H * sy, W * sx, C];
    const dims = { B, D, H, W, sz, sy, sx, C };
    const out = depthToSpaceBiasHost(values(xi), values(bi), dims);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = depthToSpaceBiasGradHost(values(dy), dims);
      return [tf.tensor(g.dx, xi.shape, 'float32'), tf.tensor(g.dbias, [C], 'float32')];
    };
    return { value: tf.tensor(out, outShape, 'float32'), gradFunc };
  });
  return op(x, bias) as tf.Tensor5D;
}

/**
 * The transposed-conv weight [sz, sy, sx, out, in] rearranged as the 1x1x1 conv filter
 * [1, 1, 1, in, sz*sy*sx*out] of the projection (see layers.ts `upsample`); gradient: the inverse.
 * (tfjs's cpu Transpose walks every element through generic index arithmetic.)
 */
export function fusedUpsampleFilter(weight: tf.Tensor5D): tf.Tensor5D {
  const op = customOp(([wi]) => {
    const [sz, sy, sx, cout, cin] = wi.shape;
    const taps = sz * sy * sx;
    const kc = taps * cout;
    // w[(t*cout + co)*cin + ci] <-> f[ci*kc + t*cout + co]
    const move = (src: Float32Array, dst: Float32Array, toFilter: boolean): void => {
      for (let tc = 0; tc < kc; tc++)
        for (let ci = 0; ci < cin; ci++) {
          if (toFilter) dst[ci * kc + tc] = src[tc * cin + ci];
          else dst[tc * cin + ci] = src[ci * kc + tc];
        }
    };
    const f = new Float32Array(wi.size);
    move(values(wi), f, true);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = new Float32Array(wi.size);
      move(values(dy), g, false);
      return [tf.tensor(g, wi.shape, 'float32')];
    };
    return { value: tf.tensor(f, [1, 1, 1, cin, kc], 'float32'), gradFunc };
  });
  return op(weight) as tf.Tensor5D;
}

/**
 * LeakyReLU(a + b) of same-shape tensors (the end of a residual block) as one pass, with the
 * gradient dy * (a + b > 0 ? 1 : slope) for both inputs computed in one pass too.
 */
export function fusedResidualAct(a: tf.Tensor5D, b: tf.Tensor5D, slope: number): tf.Tensor5D {
  const op = customOp(([ai, bi]) => {
    if (ai.shape.join(',') !== bi.shape.join(',')) {
      throw new Error(`residual sum: shapes [${ai.shape.join(', ')}] and [${bi.shape.join(', ')}] differ`);
    }
    const out = residualActHost(values(ai), values(bi), slope);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const dz = residualActGradHost(out, values(dy), slope);
      // both inputs receive the same gradient: one tensor, cloned for the second slot
      const t = tf.tensor(dz, ai.shape, 'float32');
      return [t, tf.clone(t)];
    };
    return { value: tf.tensor(out, ai.shape, 'float32'), gradFunc };
  });
  return op(a, b) as tf.Tensor5D;
}
