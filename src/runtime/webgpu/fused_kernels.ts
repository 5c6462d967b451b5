// The webgpu kernels of the project's fused ops (../kernels/fused_names.ts; the ops and their one
// gradient each are in ../model/fused.ts and ../loss/fused.ts), registered with the other webgpu
// kernels (./register.ts). Each runs the WGSL programs of ./fused_norm.ts, ./fused_layout.ts and
// ./fused_loss.ts on the kernel's inputs; no result is read back to the host.
import * as tf from '@tensorflow/tfjs';
import type { SigmoidDiceBceSpec } from '../loss/sigmoid-dice-bce.js';
import {
  ADD_BIAS, BIAS_NORM_ACT, BIAS_NORM_ACT_GRAD, COLUMN_SUMS, CONCAT_CHANNELS, DEPTH_TO_SPACE_BIAS, DEPTH_TO_SPACE_BIAS_GRAD,
  RESIDUAL_ACT, RESIDUAL_ACT_GRAD, SIGMOID_DICE_BCE, SIGMOID_DICE_BCE_GRAD, SPLIT_CHANNELS, UPSAMPLE_FILTER, UPSAMPLE_FILTER_GRAD,
  type BiasNormActAttrs, type DepthToSpaceAttrs, type ResidualActAttrs, type SplitChannelsAttrs, type UpsampleFilterGradAttrs,
} from '../kernels/fused_names.js';
import { addBiasKernel, channelSlice, concatKernel, depthToSpaceKernel, residualActGradKernel, residualActKernel, transpose2d } from './fused_layout.js';
import { gpuSigmoidDiceBceBackward, gpuSigmoidDiceBceForward } from './fused_loss.js';
import { gpuBiasNormActBackward, gpuBiasNormActForward } from './fused_norm.js';
import { columnSums } from './fused_reduce.js';

type GpuFn = (inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => tf.Tensor[];

interface RefCounted {
  incRef(dataId: object): void;
}

/**
 * A webgpu kernel from a function of tensors: the inputs are seen as tensors (each view holds its
 * own reference to the input's buffer: tfjs counts references in the backend), `fn` runs in a
 * scope that frees its intermediates and the views, and each output's GPU buffer is handed to the
 * kernel's caller (one reference taken, as tfjs's own forwarding kernels do, before the output
 * tensor is released).
 */
function gpuKernel(kernelName: string, fn: GpuFn): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const engine = tf.engine();
    const refs = backend as unknown as RefCounted;
    const outs = tf.tidy(() => {
      const ins: Record<string, tf.Tensor> = {};
      for (const [name, info] of Object.entries(inputs)) {
        if (!info) continue;
        refs.incRef(info.dataId);
        ins[name] = engine.makeTensorFromTensorInfo(info);
      }
      return fn(ins, (attrs ?? {}) as Record<string, unknown>);
    });
    const infos = outs.map((t): tf.TensorInfo => {
      refs.incRef(t.dataId);
      const info = { dataId: t.dataId, shape: [...t.shape], dtype: t.dtype };
      t.dispose();
      return info;
    });
    return infos.length === 1 ? infos[0] : infos;
  };
  return { kernelName, backendName: 'webgpu', kernelFunc };
}

const channels = (t: tf.Tensor): number => t.shape[t.shape.length - 1];

const spec = (a: Record<string, unknown>): SigmoidDiceBceSpec => {
  const s = a as unknown as SigmoidDiceBceSpec;
  return { batchDice: s.batchDice, reduction: s.reduction, smooth: s.smooth, denominatorMin: s.denominatorMin };
};

/** The webgpu kernels of every fused op that has WGSL programs. */
export function makeWebGpuFusedKernels(): tf.KernelConfig[] {
  return [
    gpuKernel(BIAS_NORM_ACT, ({ x, scale, offset }, a) => {
      const { eps, slope } = a as unknown as BiasNormActAttrs;
      return gpuBiasNormActForward(x as tf.Tensor5D, scale, offset, eps, slope);
    }),
    gpuKernel(BIAS_NORM_ACT_GRAD, ({ dy, x, scale, offset, stats }, a) =>
      gpuBiasNormActBackward(dy, x as tf.Tensor5D, stats, scale, offset, (a as unknown as BiasNormActAttrs).slope)),
    gpuKernel(CONCAT_CHANNELS, ({ a, b }) => {
      const Ca = channels(a);
      const Cb = channels(b);
      return [concatKernel(a, b, a.size / Ca, Ca, Cb, [...a.shape.slice(0, -1), Ca + Cb])];
    }),
    gpuKernel(SPLIT_CHANNELS, ({ dy }, a) => {
      const Ca = (a as unknown as SplitChannelsAttrs).channels;
      const C = channels(dy);
      const n = dy.size / C;
      const lead = dy.shape.slice(0, -1);
      return [channelSlice(dy, n, C, 0, Ca, [...lead, Ca]), channelSlice(dy, n, C, Ca, C - Ca, [...lead, C - Ca])];
    }),
    gpuKernel(ADD_BIAS, ({ x, bias }) => [addBiasKernel(x, bias, channels(x))]),
    gpuKernel(COLUMN_SUMS, ({ x }) => [columnSums(x, x.size / channels(x), channels(x))]),
    gpuKernel(DEPTH_TO_SPACE_BIAS, ({ x, bias }, a) => {
      const stride = (a as unknown as DepthToSpaceAttrs).stride;
      const [B, D, H, W, K] = x.shape;
      const C = K / (stride[0] * stride[1] * stride[2]);
      return [depthToSpaceKernel(x, bias, [B, D, H, W, C], stride, true, [B, D * stride[0], H * stride[1], W * stride[2], C])];
    }),
    gpuKernel(DEPTH_TO_SPACE_BIAS_GRAD, ({ dy }, a) => {
      const stride = (a as unknown as DepthToSpaceAttrs).stride;
      const [B, OD, OH, OW, C] = dy.shape;
      const [D, H, W] = [OD / stride[0], OH / stride[1], OW / stride[2]];
      return [
        depthToSpaceKernel(dy, undefined, [B, D, H, W, C], stride, false, [B, D, H, W, stride[0] * stride[1] * stride[2] * C]),
        columnSums(dy, dy.size / C, C),
      ];
    }),
    gpuKernel(UPSAMPLE_FILTER, ({ weight }) => {
      const [sz, sy, sx, cout, cin] = weight.shape;
      const kc = sz * sy * sx * cout;
      return [transpose2d(weight, kc, cin, [1, 1, 1, cin, kc])];
    }),
    gpuKernel(UPSAMPLE_FILTER_GRAD, ({ dy }, a) => {
      const shape = (a as unknown as UpsampleFilterGradAttrs).weightShape;
      const [sz, sy, sx, cout, cin] = shape;
      return [transpose2d(dy, cin, sz * sy * sx * cout, [...shape])];
    }),
    gpuKernel(RESIDUAL_ACT, ({ a, b }, at) => [residualActKernel(a, b, (at as unknown as ResidualActAttrs).slope)]),
    gpuKernel(RESIDUAL_ACT_GRAD, ({ y, dy }, at) => [residualActGradKernel(y, dy, (at as unknown as ResidualActAttrs).slope)]),
    gpuKernel(SIGMOID_DICE_BCE, ({ logits, targets, mask }, a) => gpuSigmoidDiceBceForward(logits as tf.Tensor5D, targets, mask, spec(a))),
    gpuKernel(SIGMOID_DICE_BCE_GRAD, ({ dy, logits, targets, mask, sums }, a) => [
      gpuSigmoidDiceBceBackward(dy, logits as tf.Tensor5D, targets, mask, sums, spec(a)),
    ]),
  ];
}
