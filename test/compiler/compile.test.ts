import { describe, expect, it } from 'vitest';
import { applyOverrides, compileProgram, deriveStrides, loadProgram, samplingShares } from '../../src/compiler/index.js';
import { validateGraph, type FinetuneStage, type RuntimeGraph, type Stage, type TrainStage } from '../../src/graph/index.js';
import { BASE, compileText } from './helpers.js';

/** The stage with this id (fails the test when absent). */
function stage<T extends Stage = Stage>(graph: RuntimeGraph | null, id: string): T {
  const s = graph?.stages.find((x) => x.id === id);
  if (!s) throw new Error(`no stage '${id}' in ${graph?.stages.map((x) => x.id).join(', ')}`);
  return s as T;
}
const firstOf = <T extends Stage>(graph: RuntimeGraph | null, kind: T['kind']): T => graph!.stages.find((s) => s.kind === kind) as T;

describe('compile: the quickstart', async () => {
  const program = await loadProgram('experiments/quickstart.mt');
  const { graph, diagnostics } = compileProgram(program);

  it('compiles without diagnostics to a valid graph', () => {
    expect(diagnostics).toEqual([]);
    expect(graph).not.toBeNull();
    expect(() => validateGraph(graph)).not.toThrow();
    expect(graph!.source).toEqual({ file: 'experiments/quickstart.mt', experiments: ['quickstart'] });
    expect(firstOf<TrainStage>(graph, 'train').seed).toBe(42);
  });

  it('has the stages in order with their dependencies', () => {
    const pre = ['synth_liver', 'synth_liver_tumour', 'synth_abdomen', 'synth_vessel'];
    const prepares = [...pre, 'synth_kidney'].map((d) => [`prepare:${d}`, 'prepare', []]);
    expect(graph!.stages.map((s) => [s.id, s.kind, s.deps])).toEqual([
      ...prepares,
      ['preprocess:quickstart_pretrain', 'preprocess', pre.map((d) => `prepare:${d}`)],
      ['train:quickstart_pretrain', 'train', ['preprocess:quickstart_pretrain']],
      ['preprocess:synth_kidney@quickstart_pretrain', 'preprocess', ['prepare:synth_kidney', 'preprocess:quickstart_pretrain']],
      ['finetune:quickstart', 'finetune', ['preprocess:synth_kidney@quickstart_pretrain', 'train:quickstart_pretrain']],
      ['evaluate:quickstart', 'evaluate', ['finetune:quickstart', 'preprocess:synth_kidney@quickstart_pretrain']],
      ['report:quickstart', 'report', ['evaluate:quickstart']],
    ]);
    expect(graph!.datasets.map((d) => d.name)).toEqual([...pre, 'synth_kidney']);
    expect(stage(graph, 'prepare:synth_abdomen')).toMatchObject({ datasets: ['synth_abdomen'] });
    expect(stage(graph, 'preprocess:quickstart_pretrain')).toMatchObject({
      datasets: pre,
      spacing: [4, 4, 4],
      normalization: { kind: 'ct', scope: 'collection', statsFrom: null },
    });
    // #17 item 5: the fine-tune target is normalised with the pre-training's statistics, in a stage of its own.
    expect(stage(graph, 'preprocess:synth_kidney@quickstart_pretrain')).toMatchObject({
      datasets: ['synth_kidney'],
      spacing: [4, 4, 4],
      normalization: { kind: 'ct', scope: 'collection', statsFrom: 'preprocess:quickstart_pretrain' },
    });
    expect(stage(graph, 'evaluate:quickstart')).toMatchObject({
      models: [{ fold: 0, stage: 'finetune:quickstart' }], data: 'preprocess:synth_kidney@quickstart_pretrain', datasets: ['synth_kidney'],
      split: { folds: 5, seed: 12345 }, inference: { stepFraction: 0.5, gaussian: true, mirror: true },
    });
    expect(stage(graph, 'report:quickstart')).toMatchObject({ experiment: 'quickstart', evaluations: ['evaluate:quickstart'] });
  });

  it('lowers datasets with region classes, tags and the synthetic source', () => {
    const liver = graph!.datasets[0];
    expect(liver).toEqual({
      name: 'synth_liver',
      root: 'quickstart/Dataset901_SynthLiver',
      modality: 'CT',
      classes: [
        { name: 'liver', labels: [1, 2], tags: [] },
        { name: 'liver_tumour', labels: [2], tags: ['cancer'] },
      ],
      synthetic: { generator: 'quickstart', seed: 2026 },
      cases: 12,
      labels: {},
      splitFile: null,
    });
  });

  it('pre-trains on every case of the pre-training datasets (folds none) and evaluates only the fine-tune, on its fold 0', () => {
    // The pre-training datasets are never evaluated; holding 20 % of them out only costs the backbone
    // data (the paper pre-trains on all of them). The kidney target keeps its fold-0 hold-out.
    expect(stage<TrainStage>(graph, 'train:quickstart_pretrain').fold).toBeNull();
    expect(stage<FinetuneStage>(graph, 'finetune:quickstart').fold).toBe(0);
    expect(graph!.stages.filter((s) => s.kind === 'evaluate').map((s) => s.id)).toEqual(['evaluate:quickstart']);
    expect(stage(graph, 'evaluate:quickstart')).toMatchObject({ models: [{ fold: 0, stage: 'finetune:quickstart' }], datasets: ['synth_kidney'] });
  });

  it('pre-trains one head per class of every dataset, in declaration order, with sqrt shares', () => {
    const train = stage<TrainStage>(graph, 'train:quickstart_pretrain');
    expect(train.heads.map((h) => `${h.dataset}.${h.name}`)).toEqual([
      'synth_liver.liver', 'synth_liver.liver_tumour', 'synth_liver_tumour.liver_tumour',
      'synth_abdomen.liver', 'synth_abdomen.spleen', 'synth_abdomen.aorta', 'synth_vessel.aorta', 'synth_vessel.spleen',
    ]);
    expect(train.heads[0].labels).toEqual([1, 2]);
    const z = Math.sqrt(12) + Math.sqrt(8) + Math.sqrt(6) + Math.sqrt(10);
    expect(train.sampling.kind).toBe('inverse_sqrt');
    expect(train.sampling.foregroundFraction).toBe(0.33);
    expect(train.sampling.shares.synth_liver).toBeCloseTo(Math.sqrt(12) / z, 12);
    expect(train.sampling.shares.synth_abdomen).toBeCloseTo(Math.sqrt(6) / z, 12);
    expect(train.architecture).toEqual({
      name: 'quickstart_unet', kind: 'unet', patch: [32, 32, 32], features: [8, 16, 32, 64],
      strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]], convsPerStage: 2,
      kernels: [[3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]], deepSupervision: true, spacing: [4, 4, 4],
      layers: { padding: 'end', residualSkip: 'strided_conv', convBias: true, upsampleBias: true, headBias: true, decoderKernels: 'stage' },
    });
    // nnU-Net's augmentation (std/augmentation), for the pre-training and the fine-tune alike
    expect(train.augmentation?.name).toBe('nnunet_augmentation');
    expect(train.augmentation?.transforms.filter((t) => t.p > 0).map((t) => t.kind)).toEqual([
      'rotation', 'scaling', 'noise', 'blur', 'brightness', 'contrast', 'low_resolution', 'gamma_inverted', 'gamma', 'mirror',
    ]);
    expect(stage<FinetuneStage>(graph, 'finetune:quickstart').augmentation).toEqual(train.augmentation);
    expect([train.fold, train.split, train.data, train.precision, train.checkpoint, train.targets])
      .toEqual([null, { folds: 5, seed: 12345 }, 'preprocess:quickstart_pretrain', 'fp32', null, null]);
    expect(train.batch).toBe(2);
    expect(train.schedule).toEqual({
      name: 'short_pretrain', optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 },
      epochs: 15, iterationsPerEpoch: 25, clipNorm: 12,
      phases: [{ trains: 'all', epochs: 15, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } }],
      validationIterations: 5, checkpointEvery: 5,
    });
    expect(train.loss).toBe('multitalent');
    expect(train.lossOptions).toEqual({ batchDice: true });
    expect(train.output).toEqual({ activation: 'sigmoid' });
  });

  it('fine-tunes with fresh heads for the target only, inheriting the architecture', () => {
    const ft = stage<FinetuneStage>(graph, 'finetune:quickstart');
    expect(ft.from).toBe('train:quickstart_pretrain');
    expect(ft.heads).toEqual([
      { dataset: 'synth_kidney', name: 'kidney', labels: [1, 2] },
      { dataset: 'synth_kidney', name: 'kidney_tumour', labels: [2] },
    ]);
    expect(ft.architecture.name).toBe('quickstart_unet');
    expect(ft.sampling.shares).toEqual({ synth_kidney: 1 });
    expect(ft.schedule.phases).toEqual([
      { trains: 'heads', epochs: 2, lr: { kind: 'linear', from: 0, to: 0.01 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } },
      { trains: 'all', epochs: 58, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } },
    ]);
    expect(ft.schedule.epochs).toBe(60);
  });

  it('can compile the pre-training experiment alone (folds none: nothing held out, so nothing to evaluate)', () => {
    const r = compileProgram(program, { experiment: 'quickstart_pretrain' });
    const pre = ['synth_liver', 'synth_liver_tumour', 'synth_abdomen', 'synth_vessel'];
    expect(r.graph!.stages.map((s) => s.id)).toEqual([...pre.map((d) => `prepare:${d}`), 'preprocess:quickstart_pretrain', 'train:quickstart_pretrain']);
    // With a fold it is evaluated on that fold's validation cases, as any experiment.
    const held = compileProgram(applyOverrides(program, ['quickstart_pretrain.folds=[0]']).program, { experiment: 'quickstart_pretrain' });
    expect(held.graph!.stages.map((s) => s.id).slice(-2)).toEqual(['evaluate:quickstart_pretrain', 'report:quickstart_pretrain']);
    expect(r.graph!.datasets.map((d) => d.name)).not.toContain('synth_kidney');
    // #17 item 5: the pre-training inside the fine-tune chain is the very stage it is alone (so it is shared and cached).
    for (const id of ['preprocess:quickstart_pretrain', 'train:quickstart_pretrain']) expect(stage(graph, id)).toEqual(stage(r.graph, id));
  });
});

describe('compile: rules', () => {
  it('derives strides by halving axes while they are at least 8', () => {
    expect(deriveStrides([96, 192, 192], 6)).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]);
    expect(deriveStrides([16, 64, 64], 4)).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [1, 2, 2]]);
  });

  it('computes shares for each sampling kind', () => {
    const ds = [{ name: 'a', cases: 100 }, { name: 'b', cases: 25 }];
    expect(samplingShares('inverse_sqrt', ds)).toEqual({ a: 10 / 15, b: 5 / 15 });
    expect(samplingShares('proportional', ds)).toEqual({ a: 0.8, b: 0.2 });
    expect(samplingShares('uniform', ds)).toEqual({ a: 0.5, b: 0.5 });
    expect(samplingShares('inverse_sqrt', [{ name: 'a', cases: 100 }, { name: 'b', cases: null }])).toEqual({ a: 0.5, b: 0.5 });
  });

  it('reproduces the paper share example (303 vs 30 cases of the 13-dataset collection)', () => {
    const n = [131, 63, 281, 303, 41, 126, 30, 30, 73, 50, 40, 82, 210];
    const s = samplingShares('inverse_sqrt', n.map((c, i) => ({ name: `d${i}`, cases: c })));
    expect(s.d3).toBeCloseTo(0.136, 3);
    expect(s.d6).toBeCloseTo(0.043, 3);
  });

  it('applies nnU-Net defaults to an empty schedule and experiment defaults', async () => {
    const { graph } = await compileText(BASE.replace('epochs     10\n  iterations 5', ''));
    const train = firstOf<TrainStage>(graph, 'train');
    expect(train.schedule).toMatchObject({ epochs: 1000, iterationsPerEpoch: 250, clipNorm: 12, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } });
    expect(train.schedule.phases).toEqual([{ trains: 'all', epochs: 1000, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } }]);
    expect(train.batch).toBe(2);
    expect(train.sampling).toMatchObject({ kind: 'inverse_sqrt', foregroundFraction: 0.33 });
  });

  it('uses the last experiment of the entry file by default', async () => {
    const { graph } = await compileText(`${BASE}\nexperiment other { datasets [liver] architecture small schedule short spacing [4, 4, 4] }\n`);
    expect(graph!.source.experiments).toEqual(['other']);
  });

  it('lowers a two-step fine-tune chain (train -> finetune -> finetune)', async () => {
    const text = `${BASE}
dataset kidney { root "K" cases 3 classes { kidney [1, 2] kidney_tumour [2] } }
dataset lung { root "L" cases 3 classes { nodule [1] } }
experiment ft1 { pretrained demo datasets [kidney] schedule short }
experiment ft2 { pretrained ft1 datasets [lung] schedule short seed 3 }
`;
    const { graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    expect(graph!.stages.map((s) => s.id)).toEqual([
      'prepare:liver', 'prepare:spleen', 'prepare:kidney', 'prepare:lung', 'preprocess:demo', 'train:demo',
      'preprocess:kidney@demo', 'finetune:ft1', 'preprocess:lung@demo', 'finetune:ft2', 'evaluate:ft2', 'report:ft2',
    ]);
    const ft2 = stage<FinetuneStage>(graph, 'finetune:ft2');
    expect(ft2.from).toBe('finetune:ft1');
    expect(ft2.seed).toBe(3);
    expect(stage<FinetuneStage>(graph, 'finetune:ft1').seed).toBe(7);
    // Every link of the chain is normalised like its root.
    expect(stage(graph, 'preprocess:lung@demo')).toMatchObject({ normalization: { statsFrom: 'preprocess:demo' } });
  });

  it('resolves a schedule with a rest phase and cosine/constant laws', async () => {
    const text = BASE.replace('epochs     10\n  iterations 5', 'epochs 100 iterations 5 optimizer adamw(weight_decay: 0.05)\n  phase heads { epochs 10 lr constant(0.001) }\n  phase all { epochs rest lr cosine(0.01, 0.0001) }');
    const { graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    const s = firstOf<TrainStage>(graph, 'train').schedule;
    const adamw = { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.05, amsgrad: false };
    expect(s.optimizer).toEqual(adamw);
    expect(s.phases).toEqual([
      { trains: 'heads', epochs: 10, lr: { kind: 'constant', value: 0.001 }, optimizer: adamw },
      { trains: 'all', epochs: 90, lr: { kind: 'cosine', initial: 0.01, final: 0.0001 }, optimizer: adamw },
    ]);
  });
});
