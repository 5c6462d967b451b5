// A tfjs 'Reverse' kernel for backend 'cpu': test-time mirroring flips every tile and its prediction
// back (infer/sliding-window.ts), up to 8 times per tile.
// tfjs's own kernel computes every element's coordinates through two TensorBuffers (about 1 us per
// element: 66 ms for one [1, 32, 32, 32, 2] tile, three times the quickstart network's forward pass).
// A reversal is a strided slice with stride -1 on the reversed axes, so this one merges neighbouring
// axes that are reversed alike and walks the output in order with the StridedSlice fast path's
// gather. Strings and complex tensors go to tfjs's own kernel.
import * as tf from '@tensorflow/tfjs';

import { numericFastPath } from './cpu_backend.js';
import { allocLike, stridedGather } from './strided_slice_kernel.js';

/**
 * The shape with runs of neighbouring axes that are all reversed or all kept merged (size-1 axes
 * dropped), and which merged axes are reversed.
 */
export function mergeReverseAxes(shape: readonly number[], axes: readonly number[]): { shape: number[]; reversed: boolean[] } {
  const flip = new Set(axes);
  const merged: number[] = [];
  const reversed: boolean[] = [];
  shape.forEach((n, a) => {
    if (n === 1) return;
    const r = flip.has(a);
    if (reversed.length > 0 && reversed[reversed.length - 1] === r) merged[merged.length - 1] *= n;
    else {
      merged.push(n);
      reversed.push(r);
    }
  });
  return { shape: merged, reversed };
}

export function makeFastReverseKernel(original: tf.KernelConfig): tf.KernelConfig {
  return numericFastPath<tf.ReverseAttrs>('Reverse', original, ({ x, values, backend, attrs }) => {
    const m = mergeReverseAxes(x.shape, tf.util.parseAxisParam(attrs.dims, x.shape));
    const out = allocLike(values, values.length);
    if (!m.reversed.includes(true)) out.set(values);
    else {
      const strides = m.reversed.map((r) => (r ? -1 : 1));
      const begin = m.shape.map((n, a) => (m.reversed[a] ? n - 1 : 0));
      stridedGather(values, m.shape, m.shape, strides, begin, out);
    }
    return backend.makeTensorInfo(x.shape.slice(), x.dtype, out);
  });
}
