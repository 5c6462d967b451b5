// Fast CPU kernels for tfjs: swaps the 'cpu' backend's Conv3D,
// Conv3DBackpropInputV2 and Conv3DBackpropFilterV2 for the native addon
// (native/conv3d), so tf.conv3d and its gradients run on it transparently.
export {
  registerFastCpuKernels,
  unregisterFastCpuKernels,
  fastCpuKernelsActive,
  originalCpuConv3dKernels,
  nativeConv3dInfo,
  type FastKernelsStatus,
} from './registry.js';
export { nativeConv3dPath, type NativeConv3dInfo } from './native_addon.js';
export { benchConv3d, type BenchConv3dOptions, type BenchConv3dResult } from './bench.js';
