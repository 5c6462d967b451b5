import { describe, expect, it } from 'vitest';
import { argmaxLabels, classMasksFromProbabilities } from '../../../src/runtime/infer/class-masks.js';

describe('class masks from predicted probabilities', () => {
  it('sigmoid: each class thresholded at p > 0.5 on its own channel (masks may overlap)', () => {
    const masks = classMasksFromProbabilities({ activation: 'sigmoid' }, [Float32Array.from([0.2, 0.5, 0.51, 0.9]), Float32Array.from([0.6, 0.6, 0.1, 0.9])], [{ labels: [1, 2] }, { labels: [2] }]);
    expect(masks.map((m) => Array.from(m))).toEqual([[0, 0, 1, 1], [1, 1, 0, 1]]);
  });

  it('softmax: argmax label (the lower channel on ties), then each class takes its labels', () => {
    const probs = [Float32Array.from([0.7, 0.2, 0.1, 0.4]), Float32Array.from([0.2, 0.5, 0.3, 0.4]), Float32Array.from([0.1, 0.3, 0.6, 0.2])];
    expect(Array.from(argmaxLabels(probs, [0, 1, 3]))).toEqual([0, 1, 3, 0]);
    const masks = classMasksFromProbabilities({ activation: 'softmax', labels: [0, 1, 3] }, probs, [{ labels: [1] }, { labels: [3] }, { labels: [1, 3] }]);
    expect(masks.map((m) => Array.from(m))).toEqual([[0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 1, 0]]);
  });

  it('checks the number of probability volumes', () => {
    expect(() => argmaxLabels([new Float32Array(2)], [0, 1])).toThrow(/1 probability volumes for 2 labels/);
    expect(() => classMasksFromProbabilities({ activation: 'sigmoid' }, [new Float32Array(1)], [])).toThrow(/1 probability volumes for 0 classes/);
  });
});
