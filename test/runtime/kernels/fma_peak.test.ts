// estimateFmaPeak: the FMA peak and the broadcast-operand rate `mtc bench` prints, over a stand-in
// addon, so that both the current addon and one built before the broadcast probe are covered.
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { FmaPeakProbe } from '../../../src/runtime/kernels/native_addon.js';

const fmaPeak = vi.fn<(ms: number, kind?: 'broadcast') => FmaPeakProbe>();
vi.mock('../../../src/runtime/kernels/native_addon.js', () => ({
  loadNativeConv3d: () => ({ addon: { fmaPeak }, path: 'stand-in' }),
}));
const { estimateFmaPeak } = await import('../../../src/runtime/kernels/native_config.js');

function probe(gflops: number, broadcast: boolean): FmaPeakProbe {
  return { gflops, cpuGflops: gflops, threads: 2, lanes: 16, chains: 12, ms: 1, isa: 'avx512', ...(broadcast ? { broadcast } : {}) };
}

describe('estimateFmaPeak', () => {
  beforeEach(() => fmaPeak.mockReset());

  it('takes the best of the probes, for the peak and for FMAs with a broadcast operand', () => {
    const peaks = [400, 420, 410];
    const broadcasts = [300, 290, 310];
    fmaPeak.mockImplementation((_ms, kind) => (kind === 'broadcast' ? probe(broadcasts.shift() ?? 0, true) : probe(peaks.shift() ?? 0, false)));
    const est = estimateFmaPeak(3, 1);
    expect(est?.gflops).toBe(420);
    expect(est?.broadcastGflops).toBe(310);
    expect(est?.method).toMatch(/2 threads x 12 independent 512-bit FMA chains \(avx512 build\), best of 3 probes of 1 ms/);
    expect(fmaPeak.mock.calls.filter(([, kind]) => kind === 'broadcast')).toHaveLength(3);
  });

  it('an addon built before the broadcast probe (it rejects a second argument): the peak alone, no error', () => {
    fmaPeak.mockImplementation((_ms, kind) => {
      if (kind !== undefined) throw new RangeError('conv3d native: fmaPeak(ms) takes 0 < ms <= 10000');
      return probe(400, false);
    });
    const est = estimateFmaPeak(2, 1);
    expect(est?.gflops).toBe(400);
    expect(est).not.toHaveProperty('broadcastGflops');
  });

  it('a result without the broadcast flag is not taken for the broadcast rate', () => {
    fmaPeak.mockImplementation(() => probe(400, false));
    expect(estimateFmaPeak(2, 1)).not.toHaveProperty('broadcastGflops');
  });
});
