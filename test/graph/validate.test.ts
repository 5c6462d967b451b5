import { describe, expect, it } from 'vitest';
import { GraphValidationError, validateGraph } from '../../src/graph/validate.js';
import { sampleGraph } from './fixture.js';

function problems(value: unknown): string[] {
  try {
    validateGraph(value);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(GraphValidationError);
    return (e as GraphValidationError).problems;
  }
}

describe('validateGraph', () => {
  it('accepts a complete graph', () => {
    expect(validateGraph(sampleGraph()).stages.map((s) => s.id)).toEqual([
      'prepare',
      'preprocess',
      'train:pre',
      'finetune:ft',
      'evaluate:ft',
      'report',
    ]);
  });

  it('rejects unknown fields and wrong types, listing each', () => {
    const g = sampleGraph() as unknown as { seed: unknown; extra: unknown };
    g.seed = 'x';
    g.extra = 1;
    const p = problems(g);
    expect(p.some((m) => m.includes('/seed'))).toBe(true);
    expect(p.some((m) => m.includes('additional properties'))).toBe(true);
  });

  it('rejects a dependency that comes later or does not exist', () => {
    const g = sampleGraph();
    g.stages[1].deps = ['report'];
    expect(problems(g)).toContain("stage 'preprocess' depends on 'report', which does not come before it");
  });

  it('rejects unknown datasets, phase totals that disagree, and patches not divisible by the stride', () => {
    const g = sampleGraph();
    const t = g.stages[2];
    if (t.kind !== 'train') throw new Error('fixture changed');
    t.datasets.push('zzz');
    t.schedule.epochs = 5;
    t.architecture.patch = [16, 15, 16];
    const p = problems(g);
    expect(p).toContain("stage 'train:pre' names unknown dataset 'zzz'");
    expect(p).toContain("stage 'train:pre': phases add up to 2 epochs, schedule says 5");
    expect(p).toContain("stage 'train:pre': patch 15 on axis 1 is not divisible by the total stride 2, so it does not fit the network; use a multiple of 2 (e.g. 14 or 16)");
  });

  it('rejects a fine-tune whose source is missing', () => {
    const g = sampleGraph();
    const f = g.stages[3];
    if (f.kind !== 'finetune') throw new Error('fixture changed');
    f.from = 'train:nope';
    expect(problems(g)).toContain("stage 'finetune:ft' fine-tunes from 'train:nope', which does not come before it");
  });
});
