import { describe, expect, it } from 'vitest';
import { compileProgram, hasErrors, loadProgram } from '../../src/compiler/index.js';
import type { EvaluateStage, FinetuneStage, RuntimeGraph, Stage, TrainStage } from '../../src/graph/types.js';

/**
 * experiments/synthetic_claim.mt (issue #9, section 7) compares (a) one multi-dataset network with
 * one network per dataset and (b) a fine-tune with the same training from scratch. These checks keep
 * the comparison fair when someone edits the file: the stages it is meant to have, equal iteration
 * totals within each arm, and the same validation cases (same folds of the same splits) for both sides.
 */
const FILE = 'experiments/synthetic_claim.mt';
const POOLED = ['synth_liver', 'synth_liver_tumour', 'synth_abdomen', 'synth_vessel'];

async function graphOf(): Promise<RuntimeGraph> {
  const { graph, diagnostics } = compileProgram(await loadProgram(FILE), { all: true });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  expect(hasErrors(diagnostics)).toBe(false);
  return graph!;
}

const byId = (g: RuntimeGraph, id: string): Stage => {
  const s = g.stages.find((x) => x.id === id);
  if (s === undefined) throw new Error(`no stage ${id}; stages: ${g.stages.map((x) => x.id).join(', ')}`);
  return s;
};
const iterations = (s: TrainStage | FinetuneStage) => s.schedule.epochs * s.schedule.iterationsPerEpoch;
/** Everything a training does except what the arm varies: network, batch, seed, patch and spacing. */
const common = (s: TrainStage | FinetuneStage) => ({
  architecture: s.architecture,
  batch: s.batch,
  seed: s.seed,
  precision: s.precision,
  augmentation: s.augmentation,
  validation: s.schedule.validationIterations,
});
/** What decides an evaluation's cases: the folds its models trained, the split, each dataset's split file. */
const validationCases = (g: RuntimeGraph, e: EvaluateStage, dataset: string) => ({
  folds: e.models.map((m) => m.fold),
  split: e.split,
  splitFile: g.datasets.find((d) => d.name === dataset)!.splitFile,
  root: g.datasets.find((d) => d.name === dataset)!.root,
});

describe('experiments/synthetic_claim.mt', async () => {
  const g = await graphOf();

  it('compiles every experiment of the file into the intended stages', () => {
    expect(g.source.experiments).toEqual([
      'claim_md',
      ...POOLED.map((d) => `claim_single_${d}`),
      'claim_kidney_finetune',
      'claim_kidney_scratch',
    ]);
    const trainings = g.stages.filter((s) => s.kind === 'train' || s.kind === 'finetune').map((s) => s.id);
    expect(trainings.sort()).toEqual(
      ['train:claim_md', ...POOLED.map((d) => `train:claim_single_${d}`), 'finetune:claim_kidney_finetune', 'train:claim_kidney_scratch'].sort(),
    );
    for (const name of g.source.experiments) {
      expect(byId(g, `evaluate:${name}`).kind).toBe('evaluate');
      expect(byId(g, `report:${name}`).kind).toBe('report');
    }
  });

  it('(a) trains one network on the four datasets and one per dataset, with the masked loss and dice_ce', () => {
    const md = byId(g, 'train:claim_md') as TrainStage;
    expect(md.datasets).toEqual(POOLED);
    expect(md.loss).toBe('multitalent');
    expect(md.heads).toHaveLength(8);
    expect(md.checkpoint).toBeNull();
    for (const d of POOLED) {
      const one = byId(g, `train:claim_single_${d}`) as TrainStage;
      expect(one.datasets).toEqual([d]);
      expect(one.loss).toBe('dice_ce');
      expect(one.checkpoint).toBeNull();
      expect(common(one)).toEqual(common(md));
      // the same classes: every per-dataset network predicts exactly its dataset's heads of the MD network
      expect(one.heads.map((h) => `${h.dataset}.${h.name}`)).toEqual(md.heads.filter((h) => h.dataset === d).map((h) => `${h.dataset}.${h.name}`));
    }
  });

  it('(a) gives the MD network exactly the sum of the per-dataset networks\' iterations, with the same learning-rate law', () => {
    const md = byId(g, 'train:claim_md') as TrainStage;
    const singles = POOLED.map((d) => byId(g, `train:claim_single_${d}`) as TrainStage);
    expect(iterations(md)).toBe(singles.reduce((n, s) => n + iterations(s), 0));
    for (const s of singles) {
      expect(s.schedule.epochs).toBe(md.schedule.epochs);
      expect(s.schedule.phases).toEqual(md.schedule.phases);
    }
  });

  it('(a) evaluates both sides on the same validation cases of every dataset', () => {
    const md = byId(g, 'evaluate:claim_md') as EvaluateStage;
    expect(md.datasets).toEqual(POOLED);
    for (const d of POOLED) {
      const one = byId(g, `evaluate:claim_single_${d}`) as EvaluateStage;
      expect(one.datasets).toEqual([d]);
      expect(validationCases(g, one, d)).toEqual(validationCases(g, md, d));
      expect(one.inference).toEqual(md.inference);
      expect(one.metrics).toEqual(md.metrics);
    }
    expect((byId(g, 'train:claim_md') as TrainStage).fold).toBe(0);
  });

  it('(b) fine-tunes from the MD network and trains the same from scratch, with equal iterations', () => {
    const ft = byId(g, 'finetune:claim_kidney_finetune') as FinetuneStage;
    const scratch = byId(g, 'train:claim_kidney_scratch') as TrainStage;
    expect(ft.from).toBe('train:claim_md');
    expect(ft.datasets).toEqual(['synth_kidney']);
    expect(scratch.datasets).toEqual(['synth_kidney']);
    expect(scratch.checkpoint).toBeNull();
    expect(scratch.deps.some((d) => d.startsWith('train:'))).toBe(false);
    expect(iterations(ft)).toBe(iterations(scratch));
    expect(ft.schedule.epochs).toBe(scratch.schedule.epochs);
    expect(ft.loss).toBe(scratch.loss);
    expect(common(ft)).toEqual(common(scratch));
    expect(ft.heads).toEqual(scratch.heads);
    // the fine-tune's first phase trains only the new heads; from scratch everything trains throughout
    expect(ft.schedule.phases.map((p) => p.trains)).toEqual(['heads', 'all']);
    expect(scratch.schedule.phases.map((p) => p.trains)).toEqual(['all']);
    // and the kidney is held out of the pre-training
    expect((byId(g, 'train:claim_md') as TrainStage).datasets).not.toContain('synth_kidney');
  });

  it('(b) evaluates both on the same kidney validation cases', () => {
    const ft = byId(g, 'evaluate:claim_kidney_finetune') as EvaluateStage;
    const scratch = byId(g, 'evaluate:claim_kidney_scratch') as EvaluateStage;
    expect(ft.datasets).toEqual(['synth_kidney']);
    expect(validationCases(g, ft, 'synth_kidney')).toEqual(validationCases(g, scratch, 'synth_kidney'));
    expect(ft.inference).toEqual(scratch.inference);
  });
});
