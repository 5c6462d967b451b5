// `mtc bench verify`: the webgpu backend's kernels and a training step against the cpu backend.
import { describe, expect, it } from 'vitest';

import { verifyCommand } from '../../src/cli/commands/verify.js';
import { UserError } from '../../src/cli/io.js';
import { scaledError } from '../../src/runtime/verify.js';
import { webgpuSkipReason } from '../runtime/webgpu/helpers.js';
import { captureIO } from './helpers.js';

describe('mtc bench verify', () => {
  it('rejects bad options before touching a backend', async () => {
    await expect(verifyCommand({ backend: 'cpu' }, captureIO())).rejects.toBeInstanceOf(UserError);
    await expect(verifyCommand({ tolerance: '0' }, captureIO())).rejects.toThrow(/--tolerance/);
    await expect(verifyCommand({ stepPatch: '8,8' }, captureIO())).rejects.toThrow(/--step-patch must be 3/);
    await expect(verifyCommand({ stepFeatures: '4,x' }, captureIO())).rejects.toThrow(/--step-features/);
    await expect(verifyCommand({ stepBatch: '2,3' }, captureIO())).rejects.toThrow(/--step-batch/);
  });

  it('scaledError is max |difference| over max |reference|, and NaN-sensitive', () => {
    expect(scaledError([1, 2.5], [1, 2])).toBeCloseTo(0.25, 12);
    expect(scaledError([0, 0], [0, 0])).toBe(0);
    expect(scaledError([Number.NaN, 1], [1, 1])).toBeNaN();
    expect(scaledError([1], [1, 2])).toBe(Number.POSITIVE_INFINITY);
  });

  it.skipIf(webgpuSkipReason)('webgpu: every conv3d comparison passes, as JSON lines', async () => {
    const io = captureIO();
    const code = await verifyCommand({ backend: 'webgpu', stepPatch: 'none', json: true }, io);
    expect(code).toBe(0);
    const rows = io.stdout.map((l) => JSON.parse(l) as { name: string; ok: boolean; error: number; backend: string });
    expect(rows.length).toBe(24);
    expect(rows.every((r) => r.ok && r.backend === 'webgpu' && r.error < 1e-4)).toBe(true);
    expect(new Set(rows.map((r) => r.name.split(' ')[0]))).toEqual(new Set(['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2']));
  }, 300_000);

  it.skipIf(webgpuSkipReason)('fails (exit 1) when a comparison is outside the tolerance', async () => {
    const io = captureIO();
    // An impossible tolerance: float32 kernels summing in another order differ by ~1e-7.
    const code = await verifyCommand({ backend: 'webgpu', stepPatch: 'none', tolerance: '1e-12' }, io);
    expect(code).toBe(1);
    expect(io.stdout.some((l) => l.startsWith('FAIL'))).toBe(true);
    expect(io.stdout.at(-1)).toMatch(/comparisons outside tolerance/);
  }, 300_000);
});
