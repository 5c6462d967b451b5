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
      'prepare:a',
      'prepare:b',
      'prepare:c',
      'preprocess:pre',
      'train:pre',
      'preprocess:c@pre',
      'finetune:ft',
      'evaluate:ft',
      'report:ft',
    ]);
  });

  it('rejects unknown fields and wrong types, listing each', () => {
    const g = sampleGraph() as unknown as { schemaVersion: unknown; extra: unknown };
    g.schemaVersion = 'x';
    g.extra = 1;
    const p = problems(g);
    expect(p.some((m) => m.includes('/schemaVersion'))).toBe(true);
    expect(p.some((m) => m.includes('additional properties'))).toBe(true);
  });

  it('rejects a dependency that comes later or does not exist', () => {
    const g = sampleGraph();
    g.stages[3].deps = ['report:ft'];
    expect(problems(g)).toContain("stage 'preprocess:pre' depends on 'report:ft', which does not come before it");
  });

  it('rejects unknown datasets, phase totals that disagree, and patches not divisible by the stride', () => {
    const g = sampleGraph();
    const t = g.stages[4];
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
    const f = g.stages[6];
    if (f.kind !== 'finetune') throw new Error('fixture changed');
    f.from = 'train:nope';
    expect(problems(g)).toContain("stage 'finetune:ft' fine-tunes from 'train:nope', which does not come before it");
  });

  it('rejects references to stages of the wrong kind, or not depended on, and folds outside the split', () => {
    const g = sampleGraph();
    const pre = g.stages[5];
    const ft = g.stages[6];
    const ev = g.stages[7];
    if (pre.kind !== 'preprocess' || ft.kind !== 'finetune' || ev.kind !== 'evaluate') throw new Error('fixture changed');
    pre.normalization.statsFrom = 'train:pre';
    ft.fold = 5;
    ev.models.push({ fold: 0, stage: 'finetune:ft' });
    ev.data = 'preprocess:pre';
    const p = problems(g);
    expect(p).toContain("stage 'preprocess:c@pre' takes its normalisation from 'train:pre', which is a train stage, not preprocess");
    expect(p).toContain("stage 'finetune:ft': fold 5 does not exist in a 5-fold split");
    expect(p).toContain("stage 'evaluate:ft' evaluates fold 0 twice");
    expect(p).toContain("stage 'evaluate:ft' reads its cases from 'preprocess:pre' but does not depend on it");
  });

  it('a training on every case (fold null) has no validation cases: no evaluation may use it, and it needs no report', () => {
    const g = sampleGraph();
    const ft = g.stages[6];
    if (ft.kind !== 'finetune') throw new Error('fixture changed');
    ft.fold = null;
    expect(problems(g)).toContain("stage 'evaluate:ft' evaluates 'finetune:ft', which trained on every case (fold null): it has no validation cases");
    const alone = sampleGraph();
    const pre = alone.stages[4];
    if (pre.kind !== 'train') throw new Error('fixture changed');
    pre.fold = null;
    alone.source.experiments.push(pre.experiment);
    expect(problems(alone)).toEqual([]);
  });

  it('needs a report for every experiment of the graph', () => {
    const g = sampleGraph();
    g.source.experiments.push('other');
    expect(problems(g)).toContain("experiment 'other' has no report stage");
  });
});
