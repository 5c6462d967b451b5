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
      validationIterations: 2,
      checkpointEvery: 1,
    },
    loss: 'multitalent',
    seed: 1,
    fold: 0,
    split: { folds: 5, seed: 12345 },
  });
  return {
    schemaVersion: 2,
    source: { file: 'x.mt', experiments: ['ft'] },
    datasets: [
      { name: 'a', root: 'a', modality: 'CT', classes: [{ name: 'liver', labels: [1, 2], tags: [] }], synthetic: null },
      { name: 'b', root: 'b', modality: 'CT', classes: [{ name: 'spleen', labels: [1], tags: [] }], synthetic: null },
      { name: 'c', root: 'c', modality: 'CT', classes: [{ name: 'kidney', labels: [1, 2], tags: [] }], synthetic: { generator: 'quickstart', seed: 3 } },
    ],
    stages: [
      { id: 'prepare:a', deps: [], kind: 'prepare', datasets: ['a'] },
      { id: 'prepare:b', deps: [], kind: 'prepare', datasets: ['b'] },
      { id: 'prepare:c', deps: [], kind: 'prepare', datasets: ['c'] },
      {
        id: 'preprocess:pre',
        deps: ['prepare:a', 'prepare:b'],
        kind: 'preprocess',
        datasets: ['a', 'b'],
        spacing: [4, 4, 4],
        normalization: { kind: 'ct', scope: 'collection', statsFrom: null },
      },
      {
        id: 'train:pre',
        deps: ['preprocess:pre'],
        kind: 'train',
        data: 'preprocess:pre',
        ...train('pre', ['a', 'b'], [
          { dataset: 'a', name: 'liver', labels: [1, 2] },
          { dataset: 'b', name: 'spleen', labels: [1] },
        ]),
      },
      {
        id: 'preprocess:c@pre',
        deps: ['prepare:c', 'preprocess:pre'],
        kind: 'preprocess',
        datasets: ['c'],
        spacing: [4, 4, 4],
        normalization: { kind: 'ct', scope: 'collection', statsFrom: 'preprocess:pre' },
      },
      {
        id: 'finetune:ft',
        deps: ['preprocess:c@pre', 'train:pre'],
        kind: 'finetune',
        data: 'preprocess:c@pre',
        from: 'train:pre',
        ...train('ft', ['c'], [{ dataset: 'c', name: 'kidney', labels: [1, 2] }]),
      },
      {
        id: 'evaluate:ft',
        deps: ['finetune:ft', 'preprocess:c@pre'],
        kind: 'evaluate',
        experiment: 'ft',
        models: [{ fold: 0, stage: 'finetune:ft' }],
        data: 'preprocess:c@pre',
        datasets: ['c'],
        split: { folds: 5, seed: 12345 },
        inference: { stepFraction: 0.5, gaussian: true, mirror: false },
      },
      { id: 'report:ft', deps: ['evaluate:ft'], kind: 'report', experiment: 'ft', evaluations: ['evaluate:ft'] },
    ],
  };
}
