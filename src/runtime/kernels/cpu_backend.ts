// The parts of tfjs-backend-cpu's MathBackendCPU that the cpu kernels of this folder use: reading a
// tensor's values in place and wrapping an output array as a tensor. One declaration, so that a
// tfjs upgrade that changes them breaks in one place.
import type * as tf from '@tensorflow/tfjs';

export interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.TypedArray): tf.TensorInfo;
}

/** The backend as a cpu backend, or undefined when it is another kind (webgpu, wasm). */
export function asCpu(backend: unknown): CpuBackendLike | undefined {
  const b = backend as Partial<CpuBackendLike> | null;
  return b && typeof b.makeTensorInfo === 'function' && b.data && typeof b.data.get === 'function'
    ? (b as CpuBackendLike)
    : undefined;
}

/** A float32 tensor's values in place, or undefined for any other dtype or storage. */
export function f32(backend: CpuBackendLike, t: tf.TensorInfo): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

/** An int32 tensor's values in place, or undefined for any other dtype or storage. */
export function i32(backend: CpuBackendLike, t: tf.TensorInfo): Int32Array | undefined {
  if (t.dtype !== 'int32') return undefined;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Int32Array ? values : undefined;
}

/** The values a float32, int32 or bool tensor of rank >= 1 holds in place, or undefined (strings, complex, scalars). */
export type NumericValues = Float32Array | Int32Array | Uint8Array;
export function numericValues(backend: CpuBackendLike, t: tf.TensorInfo): NumericValues | undefined {
  if (t.shape.length === 0) return undefined;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array ? values : undefined;
}

/** What a numeric fast path gets: the input `x`, its values in place, the cpu backend and the kernel's attributes. */
export interface NumericFastPathArgs<A> {
  x: tf.TensorInfo;
  values: NumericValues;
  backend: CpuBackendLike;
  attrs: A;
}

/**
 * A cpu kernel that computes `kernelName` itself for a numeric input `x` on the cpu backend and
 * hands everything else to tfjs's own kernel (`original`): strings, complex and scalar inputs,
 * other backends, and the cases where `fast` returns undefined.
 */
export function numericFastPath<A>(
  kernelName: string,
  original: tf.KernelConfig,
  fast: (args: NumericFastPathArgs<A>) => tf.TensorInfo | undefined,
): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const backend = asCpu(args.backend);
    const values = backend && numericValues(backend, x);
    const out = backend && values ? fast({ x, values, backend, attrs: args.attrs as unknown as A }) : undefined;
    return out ?? original.kernelFunc(args);
  };
  return { kernelName, backendName: 'cpu', kernelFunc };
}
