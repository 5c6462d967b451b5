import type { RuntimeGraph, TrainParams } from '../../src/graph/types.js';

/** A small but complete graph: pre-train on two datasets, fine-tune on a third, evaluate, report. */
export function sampleGraph(): RuntimeGraph {
  const train = (experiment: string, datasets: string[], heads: TrainParams['heads']): TrainParams => ({
    experiment,
    datasets,
    heads,
    architecture: { name: 'tiny', kind: 'unet', patch: [16, 16, 16], features: [4, 8], strides: [[1, 1, 1], [2, 2, 2]], convsPerStage: 2 },
    batch: 2,
    sampling: { kind: 'inverse_sqrt', foregroundFraction: 0.33, shares: Object.fromEntries(datasets.map((d) => [d, 1 / datasets.length])) },
    schedule: {
      name: 's',
      optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 },
      epochs: 2,
      iterationsPerEpoch: 3,
      clipNorm: 12,
      phases: [{ trains: 'all', epochs: 2, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 } }],
    },
    loss: 'multitalent',
    seed: 1,
  });
  return {
    schemaVersion: 1,
    source: { file: 'x.mt', experiment: 'ft' },
    seed: 1,
    datasets: [
      { name: 'a', root: 'a', modality: 'CT', classes: [{ name: 'liver', labels: [1, 2], tags: [] }], synthetic: null },
      { name: 'b', root: 'b', modality: 'CT', classes: [{ name: 'spleen', labels: [1], tags: [] }], synthetic: null },
      { name: 'c', root: 'c', modality: 'CT', classes: [{ name: 'kidney', labels: [1, 2], tags: [] }], synthetic: { generator: 'quickstart', seed: 3 } },
    ],
    stages: [
      { id: 'prepare', deps: [], kind: 'prepare', datasets: ['a', 'b', 'c'] },
      {
        id: 'preprocess',
        deps: ['prepare'],
        kind: 'preprocess',
        datasets: ['a', 'b', 'c'],
        spacing: [4, 4, 4],
        normalization: { kind: 'ct', scope: 'collection' },
        split: { holdoutFraction: 0.2, seed: 1 },
      },
      {
        id: 'train:pre',
        deps: ['preprocess'],
        kind: 'train',
        ...train('pre', ['a', 'b'], [
          { dataset: 'a', name: 'liver', labels: [1, 2] },
          { dataset: 'b', name: 'spleen', labels: [1] },
        ]),
      },
      {
        id: 'finetune:ft',
        deps: ['train:pre'],
        kind: 'finetune',
        from: 'train:pre',
        ...train('ft', ['c'], [{ dataset: 'c', name: 'kidney', labels: [1, 2] }]),
      },
      {
        id: 'evaluate:ft',
        deps: ['finetune:ft'],
        kind: 'evaluate',
        experiment: 'ft',
        model: 'finetune:ft',
        datasets: ['c'],
        inference: { stepFraction: 0.5, gaussian: true, mirror: false },
      },
      { id: 'report', deps: ['evaluate:ft'], kind: 'report', evaluations: ['evaluate:ft'] },
    ],
  };
}
