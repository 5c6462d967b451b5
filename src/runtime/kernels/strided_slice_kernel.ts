// A tfjs 'StridedSlice' kernel for backend 'cpu' with a fast path for the general case (strides
// other than 1 outside the first axis): deep supervision's nearest-neighbour downsampling of the
// targets, `targets[:, ::2, ::2, ::2, :]` (loss/deep-supervision.ts). tfjs's own kernel computes
// every element's coordinates through two TensorBuffers, about 10 % of a quickstart fine-tune with
// deep supervision; this one walks the output in order and copies each innermost run. The slice's
// geometry comes from tfjs's own slice_util.sliceInfo, so masks, negative strides, new and shrunk
// axes mean what they mean in tfjs. The identity and contiguous cases, strings and complex tensors
// go to tfjs's own kernel.
import * as tf from '@tensorflow/tfjs';

import { numericFastPath, type NumericValues as Numeric } from './cpu_backend.js';
import { hostAlloc } from './host_ops.js';


/**
 * out[loc] = x[loc * strides + begin] for every loc of outShape (x's rank), with x of shape xShape
 * (row-major), in output order.
 */
export function stridedGather<T extends Numeric>(
  x: T, xShape: readonly number[], outShape: readonly number[], strides: readonly number[], begin: readonly number[], out: T,
): T {
  const r = xShape.length;
  const xStrides = new Array<number>(r).fill(1);
  for (let a = r - 2; a >= 0; a--) xStrides[a] = xStrides[a + 1] * xShape[a + 1];
  const inner = outShape[r - 1];
  const step = strides[r - 1];
  let outer = 1;
  for (let a = 0; a < r - 1; a++) outer *= outShape[a];
  if (inner === 0 || outer === 0) return out;
  const idx = new Array<number>(Math.max(0, r - 1)).fill(0);
  let o = 0;
  for (let n = 0; n < outer; n++) {
    let base = begin[r - 1];
    for (let a = 0; a < r - 1; a++) base += (idx[a] * strides[a] + begin[a]) * xStrides[a];
    if (step === 1 && inner > 16) out.set(x.subarray(base, base + inner), o);
    else for (let k = 0; k < inner; k++) out[o + k] = x[base + k * step];
    o += inner;
    for (let a = r - 2; a >= 0; a--) {
      if (++idx[a] < outShape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** A fresh array of x's kind with n elements (float32 from the host allocator). */
export function allocLike(x: Numeric, n: number): Numeric {
  if (x instanceof Float32Array) return hostAlloc(n);
  return x instanceof Int32Array ? new Int32Array(n) : new Uint8Array(n);
}

export function makeFastStridedSliceKernel(original: tf.KernelConfig): tf.KernelConfig {
  return numericFastPath<tf.StridedSliceAttrs>('StridedSlice', original, ({ x, values, backend, attrs: a }) => {
    const info = tf.slice_util.sliceInfo(
      x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask,
    );
    const sparse = info.finalShapeSparse;
    if (info.isIdentity || info.sliceDim0 || info.isSimpleSlice || sparse.length !== x.shape.length) return undefined;
    const size = sparse.reduce((p, d) => p * d, 1);
    const out = stridedGather(values, x.shape, sparse, info.strides, info.begin, allocLike(values, size));
    return backend.makeTensorInfo(info.finalShape, x.dtype, out);
  });
}
