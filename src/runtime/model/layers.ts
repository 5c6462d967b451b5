import * as tf from '@tensorflow/tfjs';
import type { Vec3 } from '../../graph/types.js';
import {
  addBias,
  biasNormAct,
  concatChannels as concatChannelsOp,
  depthToSpaceBias,
  instanceNorm as instanceNormOp,
  residualAct as residualActOp,
  upsampleFilter,
} from './fused.js';

/**
 * Differentiable building blocks of the 3D U-Net: tf.conv3d plus the fused ops of ./fused.ts, each
 * one named kernel with one gradient, run by whatever the active backend registered under its name
 * (native host passes on cpu, WGSL programs on webgpu, a tfjs composition elsewhere). Kernels
 * registered for the active backend (e.g. native conv3d for `cpu`) are used transparently.
 * Tensors are channels-last [batch, z, y, x, channel].
 */

export const INSTANCE_NORM_EPS = 1e-5;
export const LEAKY_RELU_SLOPE = 0.01;

/**
 * Instance normalisation: per sample and per channel over the spatial axes, biased variance (as
 * PyTorch's InstanceNorm3d), then the affine `scale`/`offset` per channel.
 */
export function instanceNorm(x: tf.Tensor5D, scale: tf.Tensor1D, offset: tf.Tensor1D, eps = INSTANCE_NORM_EPS): tf.Tensor5D {
  return instanceNormOp(x, scale, offset, eps);
}

/**
 * nnU-Net conv unit: 3D convolution ('same' padding, optional stride) with bias, instance norm,
 * LeakyReLU(0.01). `weight` is [kz, ky, kx, in, out].
 */
export function convUnit(
  x: tf.Tensor5D,
  weight: tf.Tensor5D,
  /** null: a convolution without bias (imported networks). */
  bias: tf.Tensor1D | null,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  stride: Vec3,
  /** LeakyReLU's negative slope; 1 gives conv + norm without activation (a residual block's end). */
  slope = LEAKY_RELU_SLOPE,
  /** Strided convolutions: pad at the end only ('same', mtc's own) or (k-1)/2 on both sides (PyTorch). */
  padding: 'end' | 'symmetric' = 'end',
): tf.Tensor5D {
  return tf.tidy(() => {
    const raw = conv3dPadded(x, weight, stride, padding);
    return biasNormAct(raw, bias ?? (tf.zeros([weight.shape[4]]) as tf.Tensor1D), scale, offset, INSTANCE_NORM_EPS, slope);
  });
}

/**
 * 3D convolution with nnU-Net's output size (input / stride). A 1x1x1 kernel needs no padding
 * ('same' with a stride would make tfjs pad by -1, sampling odd voxels, unlike PyTorch's padding 0,
 * and outside what the native kernels take). Other kernels: 'same' (for a stride of 2 on an even
 * size, tfjs pads only at the end), or with `symmetric` and a stride, PyTorch's (k-1)/2 zeros on
 * both sides of each axis and a 'valid' convolution.
 */
export function conv3dPadded(x: tf.Tensor5D, weight: tf.Tensor5D, stride: Vec3, padding: 'end' | 'symmetric'): tf.Tensor5D {
  const k = weight.shape.slice(0, 3);
  if (k.every((v) => v === 1)) return tf.conv3d(x, weight, stride, 'valid');
  if (padding === 'end' || stride.every((s) => s === 1)) return tf.conv3d(x, weight, stride, 'same');
  return tf.tidy(() => {
    const padded = tf.pad(x, [[0, 0], ...k.map((v): [number, number] => [(v - 1) / 2, (v - 1) / 2]), [0, 0]]) as tf.Tensor5D;
    return tf.conv3d(padded, weight, stride, 'valid');
  });
}

/** Average pooling over blocks of `stride` voxels (nnU-Net v2's residual skip before its 1x1x1 conv). */
export function blockAverage(x: tf.Tensor5D, stride: Vec3): tf.Tensor5D {
  if (stride.every((s) => s === 1)) return x;
  return tf.avgPool3d(x, stride, stride, 'valid');
}

/** LeakyReLU(a + b) for same-shape tensors (a residual block's sum). */
export function residualAct(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  return residualActOp(a, b, LEAKY_RELU_SLOPE);
}

/** Concatenation along the channel axis (decoder skip connections). */
export function concatChannels(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  return concatChannelsOp(a, b);
}

/**
 * x [B, z, y, x, Cin] times a 1x1x1 filter [1, 1, 1, Cin, Cout]. On cpu a tf.conv3d, which the
 * registered native kernels run (tfjs's JavaScript matMul is far slower there); elsewhere a
 * matMul (the wasm backend's Conv3D gradients are wrong, see backend.ts).
 */
function project(x: tf.Tensor5D, filter: tf.Tensor5D): tf.Tensor5D {
  if (tf.getBackend() === 'cpu') return tf.conv3d(x, filter, 1, 'valid');
  const [b, d, h, w, cin] = x.shape;
  const cout = filter.shape[4];
  const y = tf.matMul(tf.reshape(x, [b * d * h * w, cin]) as tf.Tensor2D, tf.reshape(filter, [cin, cout]) as tf.Tensor2D);
  return tf.reshape(y, [b, d, h, w, cout]) as tf.Tensor5D;
}

/** y [B, z, y, x, C] + bias [C] as one fused pass. */
function pointwiseBias(y: tf.Tensor5D, bias: tf.Tensor1D): tf.Tensor5D {
  const [b, d, h, w, c] = y.shape;
  return tf.reshape(addBias(tf.reshape(y, [b * d * h * w, c]) as tf.Tensor2D, bias), y.shape) as tf.Tensor5D;
}

/**
 * A 1x1x1 convolution over the flattened voxels (see `project`) plus its bias. `weight` is
 * [1, 1, 1, in, out] (the conv3d filter layout, so checkpoints read the same either way).
 */
export function pointwise(x: tf.Tensor5D, weight: tf.Tensor5D, bias: tf.Tensor1D | null): tf.Tensor5D {
  return tf.tidy(() => pointwiseBias(project(x, weight), bias ?? (tf.zeros([weight.shape[4]]) as tf.Tensor1D)));
}

/**
 * Transposed convolution with kernel = stride (nnU-Net's decoder upsampling), including anisotropic
 * strides such as [1, 2, 2]. With kernel = stride the output blocks do not overlap, so the op is a
 * per-voxel projection C_in -> (sz*sy*sx*C_out) followed by a depth-to-space rearrangement; both steps
 * are differentiable in tfjs (its conv3dTranspose has no gradient).
 *
 * `weight` is [sz, sy, sx, out, in], the same layout as `tf.conv3dTranspose`'s filter, so
 * `upsample(x, w, b, s)` equals `tf.conv3dTranspose(x, w, outShape, s, 'valid') + b`.
 */
export function upsample(x: tf.Tensor5D, weight: tf.Tensor5D, bias: tf.Tensor1D | null, stride: Vec3): tf.Tensor5D {
  return tf.tidy(() => {
    if (bias === null) bias = tf.zeros([weight.shape[3]]) as tf.Tensor1D;
    const [sz, sy, sx] = weight.shape;
    if (sz !== stride[0] || sy !== stride[1] || sx !== stride[2]) {
      throw new Error(`upsample: kernel [${weight.shape.slice(0, 3).join(', ')}] must equal the stride [${stride.join(', ')}]`);
    }
    // The per-voxel projection (see `project`), then one depth-to-space + bias pass.
    const proj5 = project(x, upsampleFilter(weight));
    if (sz * sy * sx === 1) return pointwiseBias(proj5, bias);
    return depthToSpaceBias(proj5, bias, [sz, sy, sx]);
  });
}
