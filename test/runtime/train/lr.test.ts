import { describe, expect, it } from 'vitest';
import { learningRate, phaseAt } from '../../../src/runtime/train/lr.js';

describe('learning-rate laws', () => {
  it('poly: initial * (1 - e/E)^exponent', () => {
    const law = { kind: 'poly', initial: 0.01, exponent: 0.9 } as const;
    expect(learningRate(law, 0, 10)).toBe(0.01);
    expect(learningRate(law, 5, 10)).toBeCloseTo(0.01 * 0.5 ** 0.9, 12);
    expect(learningRate(law, 9, 10)).toBeCloseTo(0.01 * 0.1 ** 0.9, 12);
  });
  it('linear warm-up: from + (to - from)(e + 1)/E, reaching `to` on the last epoch', () => {
    const law = { kind: 'linear', from: 0, to: 0.01 } as const;
    expect(learningRate(law, 0, 10)).toBeCloseTo(0.001, 12);
    expect(learningRate(law, 4, 10)).toBeCloseTo(0.005, 12);
    expect(learningRate(law, 9, 10)).toBeCloseTo(0.01, 12);
  });
  it('cosine: final + (initial - final)(1 + cos(pi e/E))/2', () => {
    const law = { kind: 'cosine', initial: 0.01, final: 0.001 } as const;
    expect(learningRate(law, 0, 4)).toBeCloseTo(0.01, 12);
    expect(learningRate(law, 2, 4)).toBeCloseTo(0.0055, 12);
    expect(learningRate(law, 1, 4)).toBeCloseTo(0.001 + 0.009 * (1 + Math.SQRT1_2) / 2, 12);
  });
  it('constant, and rejects epochs outside the phase', () => {
    expect(learningRate({ kind: 'constant', value: 0.3 }, 2, 3)).toBe(0.3);
    expect(() => learningRate({ kind: 'constant', value: 0.3 }, 3, 3)).toThrow(RangeError);
  });
  it('maps a global epoch to its phase', () => {
    const phases = [
      { trains: 'heads', epochs: 2, lr: { kind: 'constant', value: 1 } },
      { trains: 'all', epochs: 3, lr: { kind: 'constant', value: 1 } },
    ] as const;
    expect(phaseAt([...phases], 1)).toEqual({ phase: 0, epochInPhase: 1 });
    expect(phaseAt([...phases], 2)).toEqual({ phase: 1, epochInPhase: 0 });
    expect(() => phaseAt([...phases], 5)).toThrow(RangeError);
  });
});
