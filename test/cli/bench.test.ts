import { describe, expect, it } from 'vitest';
import { benchCommand, pytorchIsaEnv } from '../../src/cli/commands/bench.js';
import { nativeIsas, selectNativeIsa } from '../../src/runtime/kernels/native_config.js';
import { initRuntime } from '../../src/runtime/setup.js';
import { UserError, type CliIO } from '../../src/cli/io.js';
import { resencStepFlops, unetStepFlops } from '../../src/runtime/train/step-flops.js';
import { webgpuSkipReason } from '../runtime/webgpu/helpers.js';

function captureIO(env: NodeJS.ProcessEnv = {}): { io: CliIO; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false, cwd: process.cwd(), env }, out, err };
}

describe('mtc bench', () => {
  it('conv3d --json prints one object with name, backend, ms and gflops', async () => {
    const { io, out } = captureIO();
    const code = await benchCommand('conv3d', { shape: '1,4,4,4,2', filters: '3', json: true, repeats: '1', backend: 'cpu' }, io);
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const r = JSON.parse(out[0]) as Record<string, unknown>;
    expect(r.name).toBe('conv3d [1,4,4,4,2]->3 k3 s1 same');
    expect(typeof r.backend).toBe('string');
    expect(r.ms).toBeGreaterThan(0);
    expect(r.gflops).toBeGreaterThan(0);
    if (String(r.backend).includes('mtc-native')) {
      // The native kernels' fp32 FMA peak, how it was measured, and the share of it reached.
      expect(r.peak_gflops).toBeGreaterThan(0);
      expect(r.peak_method).toMatch(/FMA chains/);
      expect(r.fraction_of_peak).toBeCloseTo((r.gflops as number) / (r.peak_gflops as number), 9);
      // The same chains with a broadcast memory operand per FMA: positive, and not above the peak by
      // more than two probes of the same loop can differ.
      expect(r.broadcast_fma_gflops).toBeGreaterThan(0);
      expect(r.broadcast_fma_gflops as number).toBeLessThan(1.5 * (r.peak_gflops as number));
    }
  });

  it('conv3d without --json prints the FMA peak and how it was found, then the share of it reached', async () => {
    const { io, out } = captureIO();
    expect(await benchCommand('conv3d', { shape: '1,4,4,4,2', filters: '3', repeats: '1', backend: 'cpu' }, io)).toBe(0);
    if (!out.join('\n').includes('mtc-native')) return; // the native kernels are not built here
    expect(out[0]).toMatch(/^fp32 FMA peak \d+ GFLOP\/s \(measured: \d+ threads? x 12 independent \d+-bit FMA chains/);
    expect(out[0]).toMatch(/\nFMAs with one broadcast memory operand each, as the tiles of 16 or fewer output channels run them: /);
    expect(out[0]).toMatch(/run them: \d+ GFLOP\/s \(\d+% of the peak/);
    expect(out[1]).toMatch(/% of peak/);
  });

  it('--isa picks the build (and refuses one the CPU cannot run or that does not exist)', async () => {
    const { io, out } = captureIO();
    expect(await benchCommand('conv3d', { shape: '1,4,4,4,2', filters: '3', repeats: '1', backend: 'cpu', isa: 'generic', json: true }, io)).toBe(0);
    const r = JSON.parse(out[0]) as Record<string, unknown>;
    if (String(r.backend).includes('mtc-native')) {
      expect(r.backend).toContain('generic');
      expect((await initRuntime('cpu')).description).toContain('generic build');
    }
    await expect(benchCommand('conv3d', { shape: '1,4,4,4,2', filters: '3', repeats: '1', backend: 'cpu', isa: 'sse9' }, captureIO().io)).rejects.toThrow(/--isa must be one of/);
    // Back to the CPU's best build for the other tests.
    const best = nativeIsas()[0];
    if (best) selectNativeIsa(best);
  });

  it('caps PyTorch to the build the native kernels run when it is below the best one', () => {
    expect(pytorchIsaEnv('avx512', 'avx512')).toEqual({});
    expect(pytorchIsaEnv('avx2', 'avx512')).toEqual({ DNNL_MAX_CPU_ISA: 'AVX2', ATEN_CPU_CAPABILITY: 'avx2' });
    expect(pytorchIsaEnv('generic', 'avx2')).toEqual({ DNNL_MAX_CPU_ISA: 'SSE41', ATEN_CPU_CAPABILITY: 'default' });
    expect(pytorchIsaEnv(undefined, undefined)).toEqual({});
  });

  it('step measures a training step of the project U-Net; --compare without torch says why and still reports', async () => {
    const { io, out, err } = captureIO({ MTC_PYTHON: '/nonexistent/python3' });
    const code = await benchCommand(
      'step',
      { arch: 'unet', patch: '8,8,8', batch: '1', classes: '2', features: '2,4', json: true, compare: true, repeats: '1', backend: 'cpu' },
      io,
    );
    expect(code).toBe(0);
    expect(err.join('\n')).toMatch(/--compare skipped/);
    const r = JSON.parse(out[0]) as Record<string, unknown>;
    expect(r.name).toBe('step unet patch 8x8x8 batch 1 features [2,4] classes 2');
    expect(r.ms).toBeGreaterThan(0);
    // The process CPU time per step (every thread) comes with the wall clock.
    expect(r.cpu_ms).toBeGreaterThan(0);
    expect(r.parameters).toBeGreaterThan(0);
    expect(r.gflops).toBeCloseTo(unetStepFlops([2, 4], 2, 1, [8, 8, 8]) / ((r.ms as number) * 1e6), 6);
  });

  it('step --arch resenc_unet measures the residual-encoder U-Net, blocks per stage in the name', async () => {
    const { io, out } = captureIO();
    const code = await benchCommand(
      'step',
      { arch: 'resenc_unet', blocks: '1,2', patch: '8,8,8', batch: '1', classes: '2', features: '2,4', json: true, repeats: '1', backend: 'cpu' },
      io,
    );
    expect(code).toBe(0);
    const r = JSON.parse(out[0]) as Record<string, unknown>;
    expect(r.name).toBe('step resenc_unet patch 8x8x8 batch 1 features [2,4] blocks [1,2] classes 2');
    expect(r.gflops).toBeCloseTo(resencStepFlops([2, 4], [1, 2], 2, 1, [8, 8, 8]) / ((r.ms as number) * 1e6), 6);
    expect(resencStepFlops([2, 4], [1, 2], 2, 1, [8, 8, 8])).toBeGreaterThan(0);
  });

  it.skipIf(webgpuSkipReason)('webgpu --compare needs PyTorch with CUDA: without it the row still comes, with the reason', async () => {
    const { io, out, err } = captureIO();
    const code = await benchCommand('conv3d', { shape: '1,4,4,4,2', filters: '3', json: true, compare: true, repeats: '1', backend: 'webgpu' }, io);
    expect(code).toBe(0);
    expect(err.join('\n')).toMatch(/--compare skipped: .*(no torch|no CUDA device)/);
    expect((JSON.parse(out[0]) as { backend: string }).backend).toBe('tfjs-webgpu');
  }, 300_000);

  it('rejects malformed options with a user error', async () => {
    const { io } = captureIO();
    await expect(benchCommand('conv3d', { shape: '2,32,32', filters: '16' }, io)).rejects.toBeInstanceOf(UserError);
    await expect(benchCommand('step', { patch: '8,8,8' }, io)).rejects.toThrow(/--classes is required/);
    await expect(benchCommand('step', { arch: 'swin_unetr', classes: '2' }, io)).rejects.toThrow(/measures the U-Nets/);
    await expect(benchCommand('step', { arch: 'resenc_unet', classes: '2', features: '2,4', blocks: '1' }, io)).rejects.toThrow(/--blocks must be 2/);
  });
});

describe('step FLOPs', () => {
  it('counts every conv, transposed conv and the head (forward + both gradients)', () => {
    // features [2]: two 3x3x3 convs at 8^3 (1->2, 2->2) and the 1x1x1 head (2->3).
    const vox = 8 * 8 * 8;
    expect(unetStepFlops([2], 3, 1, [8, 8, 8])).toBe(6 * vox * (1 * 2 * 27 + 2 * 2 * 27 + 2 * 3));
  });
});

describe('mtc bench loader', () => {
  it('reports augmented batches per second for a patch, batch size and worker count', async () => {
    const { benchLoaderCommand } = await import('../../src/cli/commands/bench-loader.js');
    for (const workers of ['0', '1']) {
      const { io, out } = captureIO();
      const code = await benchLoaderCommand({ patch: '8,8,8', batch: '2', workers, batches: '3', case: '12,12,12', cases: '1', json: true }, io);
      expect(code).toBe(0);
      const r = JSON.parse(out[0]) as Record<string, unknown>;
      expect(r.name).toBe('loader patch 8x8x8 batch 2 augmentation nnunet_augmentation cases 12x12x12');
      expect(r.workers).toBe(Number(workers));
      expect(r.batches_per_second).toBeGreaterThan(0);
      expect(r.ms_per_batch).toBeCloseTo(1000 / (r.batches_per_second as number), 6);
      expect(r.cpu_ms_per_batch).toBeGreaterThan(0);
    }
  });

  it('refuses a case smaller than the patch and an unknown profile', async () => {
    const { benchLoaderCommand } = await import('../../src/cli/commands/bench-loader.js');
    const { io } = captureIO();
    await expect(benchLoaderCommand({ patch: '16,16,16', case: '8,8,8' }, io)).rejects.toThrow(UserError);
    await expect(benchLoaderCommand({ augmentation: 'heavy' }, io)).rejects.toThrow(/--augmentation must be/);
  });
});
