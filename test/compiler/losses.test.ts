// The language's loss options, per-phase optimisers and pretrained-checkpoint paths, down to the graph.
import { describe, expect, it } from 'vitest';
import { validateGraph, type TrainStage } from '../../src/graph/index.js';
import { BASE, codes, compileText, diagnosticsOf } from './helpers.js';

const edit = (text: string, from: string, to: string): string => {
  if (!text.includes(from)) throw new Error(`fixture lacks '${from}'`);
  return text.replace(from, to);
};

function trainStage(graph: unknown): TrainStage {
  const g = validateGraph(graph);
  const t = g.stages.find((s) => s.kind === 'train');
  if (!t || t.kind !== 'train') throw new Error('no train stage');
  return t;
}

const SPLEEN_ONLY = edit(BASE, 'datasets     [liver, spleen]', 'datasets     [spleen]');
const LIVER_ONLY = edit(BASE, 'datasets     [liver, spleen]', 'datasets     [liver]');

describe('loss options', () => {
  it('default: the multitalent loss with batch Dice and one sigmoid per class', async () => {
    const t = trainStage((await compileText(BASE)).graph);
    expect(t.loss).toBe('multitalent');
    expect(t.lossOptions).toEqual({ batchDice: true });
    expect(t.output).toEqual({ activation: 'sigmoid' });
  });

  it("multitalent(batch_dice: false): the authors' per-case Dice", async () => {
    const t = trainStage((await compileText(edit(BASE, 'seed         7', 'seed 7  loss multitalent(batch_dice: false)'))).graph);
    expect(t.loss).toBe('multitalent');
    expect(t.lossOptions).toEqual({ batchDice: false });
  });

  it('dice_ce on a dataset of single labels: softmax over background and the labels', async () => {
    const t = trainStage((await compileText(edit(SPLEEN_ONLY, 'seed         7', 'seed 7  loss dice_ce'))).graph);
    expect(t.loss).toBe('dice_ce');
    expect(t.output).toEqual({ activation: 'softmax', labels: [0, 1] });
  });

  it('dice_ce on a dataset with a region class: sigmoid per class (nnU-Net region-based training)', async () => {
    const t = trainStage((await compileText(edit(LIVER_ONLY, 'seed         7', 'seed 7  loss dice_ce(batch_dice: false)'))).graph);
    expect(t.output).toEqual({ activation: 'sigmoid' });
    expect(t.lossOptions).toEqual({ batchDice: false });
  });

  it('reports unknown and mistyped loss arguments', async () => {
    const unknown = await diagnosticsOf(edit(BASE, 'seed         7', 'seed 7  loss multitalent(batch_dcie: false)'));
    expect(codes(unknown)).toEqual(['MT0309']);
    expect(unknown[0].hint).toBe("did you mean 'batch_dice'?");
    const typed = await diagnosticsOf(edit(BASE, 'seed         7', 'seed 7  loss multitalent(batch_dice: 1)'));
    expect(codes(typed)).toEqual(['MT0301']);
    expect(codes(await diagnosticsOf(edit(BASE, 'seed         7', 'seed 7  loss multitalent(false)')))).toEqual(['MT0309']);
    expect(codes(await diagnosticsOf(edit(BASE, 'seed         7', 'seed 7  loss focal')))).toEqual(['MT0308']);
  });
});

describe('an optimiser per phase', () => {
  const PHASED = edit(
    BASE,
    `schedule short {
  epochs     10
  iterations 5
}`,
    `schedule short {
  epochs     10
  iterations 5
  phase heads { epochs 2  lr linear(0, 5e-4)  optimizer adamw(weight_decay: 3e-5, amsgrad: true) }
  phase all   { epochs rest  lr poly(0.01, 0.9) }
}`,
  );

  it("records each phase's optimiser: its own, else the schedule's", async () => {
    const t = trainStage((await compileText(PHASED)).graph);
    expect(t.schedule.phases.map((p) => p.optimizer)).toEqual([
      { kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 3e-5, amsgrad: true },
      { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 },
    ]);
    expect(t.schedule.optimizer).toEqual({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  });

  it('a schedule without phases has one phase with the schedule optimiser', async () => {
    const t = trainStage((await compileText(edit(BASE, 'iterations 5', 'iterations 5  optimizer adamw()'))).graph);
    expect(t.schedule.phases).toHaveLength(1);
    expect(t.schedule.phases[0].optimizer).toEqual({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01, amsgrad: false });
  });

  it("checks a phase's optimiser like the schedule's", async () => {
    const ds = await diagnosticsOf(edit(PHASED, 'amsgrad: true', 'amsgrad: yes'));
    expect(codes(ds)).toEqual(['MT0301']);
    expect(codes(await diagnosticsOf(edit(PHASED, 'optimizer adamw(', 'optimizer adam(')))).toEqual(['MT0308']);
  });
});

describe('pretrained "FILE"', () => {
  it('is relative to the .mt file that names it', async () => {
    const t = trainStage((await compileText(edit(BASE, 'seed         7', 'seed 7  pretrained "ckpt/model.json"'))).graph);
    expect(t.checkpoint).toBe('/mem/ckpt/model.json');
    const abs = trainStage((await compileText(edit(BASE, 'seed         7', 'seed 7  pretrained "/data/m/model.json"'))).graph);
    expect(abs.checkpoint).toBe('/data/m/model.json');
  });
});
