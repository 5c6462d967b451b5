// WGSL kernels for tfjs's webgpu backend: Conv3D, Conv3DBackpropInputV2, Conv3DBackpropFilterV2 as
// tiled implicit GEMMs (conv3d_gemm.ts). Anything outside their scope (dilations, non-float32
// dtypes, NCDHW, empty tensors) goes to tfjs's own kernel.
//
//   forward        y[m, co]  = im2col(x)[m, :] . W[:, co]             conv3d_forward.ts
//   input grad     dx per stride phase, dense over the phase's taps    conv3d_backprop_input.ts
//   filter grad    dW[k, co] = im2col(x)[:, k] . dy[:, co]            conv3d_backprop_filter.ts
//
// Each GEMM splits its reduction (split-K, conv3d_tiles.ts) when its output tiles alone would leave
// the GPU idle: always for the filter gradient (reduction over all voxels), for the others in the deep,
// small-volume layers. The slices are summed by a second program in a fixed order: bit-reproducible.

import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

import { FilterTransposeProgram, SplitSumProgram } from './conv3d_aux.js';
import { filterGradSource } from './conv3d_backprop_filter.js';
import { inputGradSources } from './conv3d_backprop_input.js';
import { forwardSource } from './conv3d_forward.js';
import { Conv3dGemmProgram, type GemmSource } from './conv3d_gemm.js';
import { geometryOf } from './conv3d_geometry.js';
import { chooseSplitK, chooseTiles } from './conv3d_tiles.js';
import { originalWebGpuKernel } from './register.js';

type Shape5 = [number, number, number, number, number];
type KernelArgs = Parameters<tf.KernelFunc>[0];

const ownKernelFuncs = new Set<tf.KernelFunc>();

/** tfjs's own webgpu kernel for `name` (never ours: that would recurse). */
function fallback(name: string, args: KernelArgs): tf.TensorInfo {
  const original = originalWebGpuKernel(name);
  if (!original || ownKernelFuncs.has(original.kernelFunc)) {
    throw new Error(`${name}: no tfjs webgpu kernel to fall back to`);
  }
  return original.kernelFunc(args) as tf.TensorInfo;
}

function isFloat32(...ts: tf.TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

function nonEmpty(...shapes: number[][]): boolean {
  return shapes.every((s) => s.length === 5 && s.every((d) => d > 0));
}

function unitDilation(info: tf.backend_util.Conv3DInfo): boolean {
  return info.dilationDepth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1;
}

/**
 * Runs one GEMM: directly into `outputShape` (or into `output` when given), or, with split-K, into a
 * partial buffer [splits, rows, cols] that SplitSumProgram reduces (and scatters by gemmOutRow).
 */
function runGemm(
  backend: WebGPUBackend,
  src: GemmSource,
  inputs: tf.TensorInfo[],
  outputShape: number[],
  output?: tf.TensorInfo,
): tf.TensorInfo {
  const tiles = chooseTiles(src.rows, src.cols, src.aLayout);
  const split = chooseSplitK(src.rows, src.cols, src.depth, tiles);
  if (split.splits === 1) {
    const outRows = outputShape.reduce((a, b) => a * b, 1) / src.cols;
    const program = new Conv3dGemmProgram(src, { tiles, ...split, outputShape, outRows, scatterRows: true });
    return backend.runWebGPUProgram(program, inputs, 'float32', undefined, output);
  }
  const partialShape = [split.splits, src.rows, src.cols];
  const program = new Conv3dGemmProgram(src, { tiles, ...split, outputShape: partialShape, outRows: src.rows, scatterRows: false });
  const partial = backend.runWebGPUProgram(program, inputs, 'float32');
  try {
    const sum = new SplitSumProgram(outputShape, split.splits, src.rows, src.cols, src.header, src.key);
    return backend.runWebGPUProgram(sum, [partial], 'float32', undefined, output);
  } finally {
    backend.disposeData(partial.dataId);
  }
}

/**
 * A kernel function over the inputs named `aName` and `bName`: `run` gets them when both are float32
 * and non-empty 5-D; tfjs's own kernel runs instead when they are not or when `run` returns null.
 */
function ownKernel<Attrs>(
  name: string,
  aName: string,
  bName: string,
  run: (a: tf.TensorInfo, b: tf.TensorInfo, attrs: Attrs, backend: WebGPUBackend) => tf.TensorInfo | null,
): tf.KernelFunc {
  return (args: KernelArgs): tf.TensorInfo => {
    const inputs = args.inputs as unknown as Record<string, tf.TensorInfo>;
    const [ta, tb] = [inputs[aName], inputs[bName]];
    const inScope = isFloat32(ta, tb) && nonEmpty(ta.shape, tb.shape);
    const out = inScope ? run(ta, tb, args.attrs as unknown as Attrs, args.backend as WebGPUBackend) : null;
    return out ?? fallback(name, args);
  };
}

const conv3d = ownKernel<tf.Conv3DAttrs>(tf.Conv3D, 'x', 'filter', (x, filter, attrs, backend) => {
  if ((attrs.dataFormat ?? 'NDHWC') !== 'NDHWC') return null;
  const info = tf.backend_util.computeConv3DInfo(
    x.shape as Shape5, filter.shape as Shape5, attrs.strides, attrs.dilations, attrs.pad);
  if (!unitDilation(info) || !nonEmpty(info.outShape)) return null;
  return runGemm(backend, forwardSource(geometryOf(info)), [x, filter], info.outShape);
});

const conv3dBackpropInput = ownKernel<tf.Conv3DBackpropInputV2Attrs>(
  tf.Conv3DBackpropInputV2, 'dy', 'filter', (dy, filter, attrs, backend) => {
    if (!nonEmpty(attrs.inputShape)) return null;
    const info = tf.backend_util.computeConv3DInfo(attrs.inputShape, filter.shape as Shape5, attrs.strides, 1, attrs.pad);
    const filterT = backend.runWebGPUProgram(new FilterTransposeProgram(filter.shape), [filter], 'float32');
    const dx = backend.makeTensorInfo(attrs.inputShape, 'float32');
    try {
      // Each stride phase writes its own voxels of dx; together they cover all of it (stride 1: one phase).
      for (const src of inputGradSources(geometryOf(info))) {
        runGemm(backend, src, [dy, filterT], attrs.inputShape, dx);
      }
    } catch (e) {
      backend.disposeData(dx.dataId);
      throw e;
    } finally {
      backend.disposeData(filterT.dataId);
    }
    return dx;
  });

const conv3dBackpropFilter = ownKernel<tf.Conv3DBackpropFilterV2Attrs>(
  tf.Conv3DBackpropFilterV2, 'x', 'dy', (x, dy, attrs, backend) => {
    if (!nonEmpty(attrs.filterShape)) return null;
    const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5, attrs.filterShape, attrs.strides, 1, attrs.pad);
    return runGemm(backend, filterGradSource(geometryOf(info)), [x, dy], attrs.filterShape);
  });

/** Kernel configs for backend 'webgpu' replacing tfjs's Conv3D and its two gradients. */
export function makeWebGpuConv3dKernels(): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [
    { kernelName: tf.Conv3D, backendName: 'webgpu', kernelFunc: conv3d },
    { kernelName: tf.Conv3DBackpropInputV2, backendName: 'webgpu', kernelFunc: conv3dBackpropInput },
    { kernelName: tf.Conv3DBackpropFilterV2, backendName: 'webgpu', kernelFunc: conv3dBackpropFilter },
  ];
  for (const c of configs) ownKernelFuncs.add(c.kernelFunc);
  return configs;
}
