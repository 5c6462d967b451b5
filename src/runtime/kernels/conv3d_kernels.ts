// tfjs KernelConfigs for backend 'cpu' that run Conv3D and its two gradient
// kernels on the native addon, deferring to tfjs's own kernel whenever the
// case is outside what the addon implements (dilation != 1, non-float32
// tensors, empty shapes).
import * as tf from '@tensorflow/tfjs';

import { asCpu, type CpuBackendLike, f32 } from './cpu_backend.js';
import { type Conv3DInfo, isUnitDilation, nativeParams, nativeSupports } from './conv3d_params.js';
import type { NativeConv3dAddon } from './native_addon.js';

export const CONV3D_KERNEL_NAMES = ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'] as const;
export type Conv3dKernelName = (typeof CONV3D_KERNEL_NAMES)[number];


type KernelArgs = Parameters<tf.KernelFunc>[0];
type Shape5 = [number, number, number, number, number];

function run(
  addon: NativeConv3dAddon,
  backend: CpuBackendLike,
  info: Conv3DInfo,
  outShape: number[],
  call: (params: Int32Array, out: Float32Array) => void,
): tf.TensorInfo {
  // Pooled (already mapped) memory: the kernels overwrite every element.
  const out = addon.alloc(tf.util.sizeFromShape(outShape));
  call(nativeParams(info), out);
  return backend.makeTensorInfo(outShape, 'float32', out);
}

export function makeNativeConv3dKernels(
  addon: NativeConv3dAddon,
  originals: Record<Conv3dKernelName, tf.KernelConfig>,
): tf.KernelConfig[] {
  const conv3d: tf.KernelFunc = (args: KernelArgs) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dilations, dataFormat } = args.attrs as unknown as tf.Conv3DAttrs;
    const backend = asCpu(args.backend);
    const xv = backend && f32(backend, x);
    const wv = backend && f32(backend, filter);
    if (backend && xv && wv && isUnitDilation(dilations) && (dataFormat ?? 'NDHWC') === 'NDHWC') {
      const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5, filter.shape as Shape5, strides, 1, pad);
      if (nativeSupports(info)) {
        return run(addon, backend, info, info.outShape, (p, y) => addon.forward(xv, wv, p, y));
      }
    }
    return originals.Conv3D.kernelFunc(args);
  };

  const backpropInput: tf.KernelFunc = (args: KernelArgs) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, inputShape } = args.attrs as unknown as tf.Conv3DBackpropInputV2Attrs;
    const backend = asCpu(args.backend);
    const dyv = backend && f32(backend, dy);
    const wv = backend && f32(backend, filter);
    if (backend && dyv && wv) {
      const info = tf.backend_util.computeConv3DInfo(inputShape, filter.shape as Shape5, strides, 1, pad);
      const dyShapeMatches = info.outShape.every((d, i) => d === dy.shape[i]);
      if (dyShapeMatches && nativeSupports(info)) {
        return run(addon, backend, info, info.inShape, (p, dx) => addon.backpropInput(dyv, wv, p, dx));
      }
    }
    return originals.Conv3DBackpropInputV2.kernelFunc(args);
  };

  const backpropFilter: tf.KernelFunc = (args: KernelArgs) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, filterShape } = args.attrs as unknown as tf.Conv3DBackpropFilterV2Attrs;
    const backend = asCpu(args.backend);
    const xv = backend && f32(backend, x);
    const dyv = backend && f32(backend, dy);
    if (backend && xv && dyv) {
      const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5, filterShape, strides, 1, pad);
      const dyShapeMatches = info.outShape.every((d, i) => d === dy.shape[i]);
      if (dyShapeMatches && nativeSupports(info)) {
        return run(addon, backend, info, filterShape, (p, dw) => addon.backpropFilter(xv, dyv, p, dw));
      }
    }
    return originals.Conv3DBackpropFilterV2.kernelFunc(args);
  };

  const funcs: Record<Conv3dKernelName, tf.KernelFunc> = {
    Conv3D: conv3d,
    Conv3DBackpropInputV2: backpropInput,
    Conv3DBackpropFilterV2: backpropFilter,
  };
  return CONV3D_KERNEL_NAMES.map((kernelName) => ({ kernelName, backendName: 'cpu', kernelFunc: funcs[kernelName] }));
}
