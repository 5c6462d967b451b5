import { describe, expect, it } from 'vitest';
import { summarizeEvaluation } from '../../../src/runtime/eval/summary.js';
import type { EvaluationResult } from '../../../src/runtime/events.js';

const result: EvaluationResult = {
  stage: 'evaluate:x',
  experiment: 'x',
  meanDice: null,
  classes: [
    { dataset: 'liver', name: 'liver', dice: 0.9, perCase: {} },
    { dataset: 'liver', name: 'tumour', dice: 0.5, perCase: {} },
    { dataset: 'liver', name: 'vessel', dice: null, perCase: {} },
    { dataset: 'kidney', name: 'kidney', dice: 0.7, perCase: {} },
  ],
};

describe('summarizeEvaluation', () => {
  it('averages over classes and, fairly, over datasets; undefined Dice is left out', () => {
    const s = summarizeEvaluation(result, []);
    expect(s.classAverage).toBeCloseTo((0.9 + 0.5 + 0.7) / 3); // 0.7
    expect(s.datasetAverage).toBeCloseTo(((0.9 + 0.5) / 2 + 0.7) / 2); // 0.7 and 0.7 → 0.7
    expect(s.groups).toEqual([]);
  });

  it('averages each class group over its members present in the evaluation', () => {
    const s = summarizeEvaluation(result, [
      { name: 'tag:cancer', classes: ['liver.tumour', 'pancreas.tumour'] },
      { name: 'organs', classes: ['liver.liver', 'kidney.kidney', 'liver.vessel'] },
      { name: 'absent', classes: ['lung.nodule'] },
    ]);
    expect(s.groups).toEqual([
      { name: 'tag:cancer', dice: 0.5, classes: 1 },
      { name: 'organs', dice: 0.8, classes: 2 },
    ]);
  });

  it('gives null averages when no class has a defined Dice', () => {
    const s = summarizeEvaluation({ ...result, classes: [{ dataset: 'a', name: 'b', dice: null, perCase: {} }] }, [{ name: 'g', classes: ['a.b'] }]);
    expect([s.classAverage, s.datasetAverage, s.groups[0].dice]).toEqual([null, null, null]);
  });
});
