// Conv3D training-step benchmark: forward + input gradient + filter gradient
// through tfjs's kernel registry on the active backend.
import * as tf from '@tensorflow/tfjs';

import { fastCpuKernelsActive, nativeConv3dInfo } from './registry.js';

export interface BenchConv3dOptions {
  /** Input shape NDHWC: [batch, depth, height, width, channels]. */
  shape: [number, number, number, number, number];
  filters: number;
  kernel: number;
  stride: number;
  /** Timed repetitions (median reported); default 5. */
  repeats?: number;
  /** Untimed warm-up repetitions; default 1. */
  warmup?: number;
  /** Padding; default 'same'. */
  pad?: 'same' | 'valid';
}

export interface BenchConv3dResult {
  name: string;
  backend: string;
  /** Median milliseconds of forward + input grad + filter grad. */
  ms: number;
  /** 3 * 2*B*Do*Ho*Wo*F*Cin*k^3 / time, in GFLOP/s. */
  gflops: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function seededUniform(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

export async function benchConv3d(opts: BenchConv3dOptions): Promise<BenchConv3dResult> {
  const { shape, filters, kernel, stride } = opts;
  const repeats = Math.max(1, opts.repeats ?? 5);
  const warmup = Math.max(0, opts.warmup ?? 1);
  const pad = opts.pad ?? 'same';
  if (shape.length !== 5 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`benchConv3d: shape must be 5 positive integers (NDHWC), got [${shape.join(',')}]`);
  }
  for (const [k, v] of Object.entries({ filters, kernel, stride })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`benchConv3d: ${k} must be a positive integer, got ${v}`);
  }
  await tf.ready();
  const strides: [number, number, number] = [stride, stride, stride];
  const x = seededUniform(shape, 1) as tf.Tensor5D;
  const w = seededUniform([kernel, kernel, kernel, shape[4], filters], 2) as tf.Tensor5D;
  const y = tf.conv3d(x, w, strides, pad);
  const dy = seededUniform(y.shape, 3) as tf.Tensor5D;
  const engine = tf.engine();

  const step = async (): Promise<number> => {
    const t0 = performance.now();
    const outs = [
      engine.runKernel('Conv3D', { x, filter: w }, { strides, pad, dataFormat: 'NDHWC', dilations: 1 }),
      engine.runKernel('Conv3DBackpropInputV2', { dy, filter: w }, { strides, pad, inputShape: shape }),
      engine.runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides, pad, filterShape: w.shape }),
    ] as tf.Tensor[];
    // Waits for the results: on cpu the values are there; on a GPU a one-element read of each
    // output waits for its kernel without timing a full download (PyTorch's side only synchronises).
    const probes = tf.getBackend() === 'cpu' ? outs : outs.map((t) => tf.slice(t, t.shape.map(() => 0), t.shape.map(() => 1)));
    await Promise.all(probes.map((t) => t.data()));
    const ms = performance.now() - t0;
    tf.dispose(outs);
    if (probes !== outs) tf.dispose(probes);
    // Untimed: let Node-API finalizers run so the addon's output buffers are recycled, as they
    // are in a training loop (which yields to the event loop every step).
    await new Promise<void>((resolve) => setImmediate(resolve));
    return ms;
  };

  try {
    for (let i = 0; i < warmup; i++) await step();
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) times.push(await step());
    const ms = median(times);
    const [, , , , cin] = shape;
    const flops = 3 * 2 * shape[0] * y.shape[1] * y.shape[2] * y.shape[3] * filters * cin * kernel ** 3;
    const be = tf.getBackend();
    const info = be === 'cpu' && fastCpuKernelsActive() ? nativeConv3dInfo() : undefined;
    const backend = info ? `cpu+mtc-native(${info.isa},${info.threads}t)` : `tfjs-${be}`;
    return {
      name: `conv3d [${shape.join(',')}]->${filters} k${kernel} s${stride} ${pad}`,
      backend,
      ms,
      gflops: flops / (ms * 1e6),
    };
  } finally {
    tf.dispose([x, w, y, dy]);
  }
}
