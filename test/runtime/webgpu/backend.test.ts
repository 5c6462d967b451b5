// The webgpu backend's setup: initialisation through initRuntime, the adapter description, and the
// device-error watch that turns WebGPU's silently skipped work into an error.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { initRuntime } from '../../../src/runtime/setup.js';
import { prepareWebGpu, takeDeviceErrors } from '../../../src/runtime/webgpu/dawn.js';
import { registerWebGpuKernels, unregisterWebGpuKernels } from '../../../src/runtime/webgpu/register.js';
import { onBackend, webgpuSkipReason } from './helpers.js';

describe.skipIf(webgpuSkipReason)('webgpu backend setup', () => {
  it('initRuntime selects webgpu and describes the adapter and kernels', async () => {
    const info = await initRuntime('webgpu');
    expect(info.backend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.description).toMatch(/^webgpu \+ WGSL kernels on /);
    const probe = await prepareWebGpu();
    expect(probe.ok).toBe(true);
    if (probe.ok && probe.adapter.software) expect(info.description).toContain('software emulation');
    await tf.setBackend('cpu');
  });

  it('records device errors that WebGPU would otherwise swallow (tfjs AddN past the binding limit)', async () => {
    takeDeviceErrors();
    const addN24 = () =>
      onBackend('webgpu', async () => {
        const parts = Array.from({ length: 24 }, (_, i) => tf.scalar(i + 1));
        const s = tf.addN(parts);
        const v = (await s.data())[0];
        tf.dispose([s, ...parts]);
        return v;
      });
    // tfjs's own AddN, restored for this check, makes an invalid pipeline: the watch records it.
    unregisterWebGpuKernels();
    const sum = await addN24();
    // 1 + ... + 24 = 300 would be right; tfjs-webgpu 4.22 produces an invalid pipeline instead.
    const errors = takeDeviceErrors();
    expect(sum).not.toBe(300);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join(' ')).toMatch(/storage buffers|binding|invalid/i);
    // With the project's kernels (safe_kernels.ts sums in chunks) the sum is right and nothing is reported.
    registerWebGpuKernels();
    expect(await addN24()).toBe(300);
    expect(takeDeviceErrors()).toEqual([]);
  });
});
