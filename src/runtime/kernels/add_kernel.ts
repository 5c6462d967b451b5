// A tfjs 'Add' kernel for backend 'cpu' with a fast path for two float32 tensors of the same shape
// (what backprop emits when it sums the gradients of a tensor used twice, e.g. U-Net skips):
// the native addon's multi-threaded loop (a plain JS loop without it) into a pooled buffer, instead
// of tfjs's per-element callback with index modulo into freshly page-faulted memory. Everything
// else goes to tfjs's own kernel.
import * as tf from '@tensorflow/tfjs';
import { asCpu, f32 } from './cpu_backend.js';
import { addHost } from './layout_ops.js';

/** Below this many elements tfjs's kernel is as fast (and allocation-free paths don't matter). */
const MIN_FAST_SIZE = 4096;

export function makeFastAddKernel(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const backend = asCpu(args.backend);
    if (backend && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])) {
      const av = f32(backend, a);
      const bv = f32(backend, b);
      if (av && bv && av.length === bv.length && av.length >= MIN_FAST_SIZE) {
        return backend.makeTensorInfo(a.shape, 'float32', addHost(av, bv));
      }
    }
    return original.kernelFunc(args);
  };
  return { kernelName: 'Add', backendName: 'cpu', kernelFunc };
}
