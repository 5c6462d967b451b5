// Conv3D training-step benchmark: tfjs's own cpu kernels vs the native ones
// (forward + input grad + filter grad per iteration).
//   node scripts/build-native.mjs && npx vitest bench --run bench/conv3d.bench.ts
// MTC_BENCH_SKIP_TFJS=1 skips the (slow, seconds per step) tfjs kernels.
// For GFLOP/s and the PyTorch comparison use benchConv3d
// (src/runtime/kernels/bench.ts) and bench/pytorch_reference.py.
import * as tf from '@tensorflow/tfjs';
import { bench, describe } from 'vitest';

import { registerFastCpuKernels, unregisterFastCpuKernels } from '../src/runtime/kernels/index.js';

type Shape5 = [number, number, number, number, number];
interface Conv3dBenchCase {
  shape: Shape5;
  filters: number;
  kernel: number;
  stride: number;
}

export const conv3dBenchCases: Conv3dBenchCase[] = [
  { shape: [2, 32, 32, 32, 16], filters: 16, kernel: 3, stride: 1 },
  { shape: [2, 32, 32, 32, 16], filters: 32, kernel: 3, stride: 2 },
  { shape: [2, 32, 32, 32, 32], filters: 16, kernel: 1, stride: 1 },
  { shape: [2, 16, 16, 16, 64], filters: 64, kernel: 3, stride: 1 },
];

await tf.setBackend('cpu');
const status = registerFastCpuKernels();
unregisterFastCpuKernels();
if (!status.native) console.warn(`native conv3d kernels unavailable: ${status.reason}`);

function trainingStep(c: Conv3dBenchCase): () => void {
  const strides: [number, number, number] = [c.stride, c.stride, c.stride];
  const x = tf.randomUniform(c.shape, -1, 1, 'float32', 1) as tf.Tensor5D;
  const w = tf.randomUniform([c.kernel, c.kernel, c.kernel, c.shape[4], c.filters], -1, 1, 'float32', 2) as tf.Tensor5D;
  const yShape = tf.backend_util.computeConv3DInfo(c.shape, w.shape, strides, 1, 'same').outShape;
  const dy = tf.randomUniform(yShape, -1, 1, 'float32', 3) as tf.Tensor5D;
  const engine = tf.engine();
  return () => {
    const outs = [
      engine.runKernel('Conv3D', { x, filter: w }, { strides, pad: 'same', dataFormat: 'NDHWC', dilations: 1 }),
      engine.runKernel('Conv3DBackpropInputV2', { dy, filter: w }, { strides, pad: 'same', inputShape: c.shape }),
      engine.runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides, pad: 'same', filterShape: w.shape }),
    ] as tf.Tensor[];
    tf.dispose(outs);
  };
}

for (const c of conv3dBenchCases) {
  describe(`conv3d [${c.shape}] -> ${c.filters} k${c.kernel} s${c.stride} (fwd + dx + dw)`, () => {
    const step = trainingStep(c);
    if (status.native) {
      bench('mtc-native', step, {
        iterations: 10, warmupIterations: 2, time: 0, warmupTime: 0,
        setup: () => void registerFastCpuKernels(),
        teardown: () => unregisterFastCpuKernels(),
      });
    }
    if (process.env.MTC_BENCH_SKIP_TFJS !== '1') {
      bench('tfjs-cpu', step, {
        iterations: 2, warmupIterations: 1, time: 0, warmupTime: 0,
        setup: () => unregisterFastCpuKernels(),
      });
    }
  });
}
