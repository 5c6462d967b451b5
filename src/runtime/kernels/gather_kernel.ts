// A tfjs 'GatherV2' kernel for backend 'cpu' with a fast path for whole rows of a float32 tensor
// (axis 0, no batch dimensions), which is how a training batch's targets are built: one row of the
// batch's region table per voxel (train/step.ts). tfjs's own kernel computes every element's
// coordinates through a TensorBuffer, 4 % of a quickstart fine-tune. Anything else, and any index
// out of range (so that tfjs reports it), goes to tfjs's own kernel.
import * as tf from '@tensorflow/tfjs';

import { asCpu, f32, i32 } from './cpu_backend.js';
import { hostAlloc } from './host_ops.js';

/** Rows of x [n, ...rest] picked by indices; undefined when an index is out of range. */
export function gatherRows(x: Float32Array, rowSize: number, rows: number, indices: ArrayLike<number>): Float32Array | undefined {
  const out = hostAlloc(indices.length * rowSize);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!(r >= 0 && r < rows)) return undefined;
    const src = r * rowSize;
    const dst = i * rowSize;
    if (rowSize <= 16) {
      for (let k = 0; k < rowSize; k++) out[dst + k] = x[src + k];
    } else {
      out.set(x.subarray(src, src + rowSize), dst);
    }
  }
  return out;
}

export function makeFastGatherKernel(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
    const backend = asCpu(args.backend);
    const ax = axis < 0 ? axis + x.shape.length : axis;
    const rowGather = ax === 0 && (batchDims ?? 0) === 0 && x.shape.length >= 1;
    if (backend && rowGather) {
      const xv = f32(backend, x);
      const iv = i32(backend, indices);
      if (xv && iv) {
        const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1);
        const out = rowSize > 0 ? gatherRows(xv, rowSize, x.shape[0], iv) : undefined;
        if (out) return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], 'float32', out);
      }
    }
    return original.kernelFunc(args);
  };
  return { kernelName: 'GatherV2', backendName: 'cpu', kernelFunc };
}
