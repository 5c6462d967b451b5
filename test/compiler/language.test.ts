import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileProgram, DIAGNOSTIC_CODES, deriveTopology, loadProgram, type Diagnostic } from '../../src/compiler/index.js';
import type { FinetuneStage, ReportStage, TrainStage, EvaluateStage } from '../../src/graph/index.js';
import { nnunetProfile, TRANSFORMS } from '../../src/graph/transforms.js';
import { BASE, compileText, diagnosticsOf, programOf } from './helpers.js';

function only(ds: Diagnostic[], code: string): Diagnostic {
  const found = ds.filter((d) => d.code === code);
  expect(found.map((d) => d.code), JSON.stringify(ds.map((d) => [d.code, d.message]))).toEqual([code]);
  return found[0];
}

function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`test bug: '${from}' not in the base program`);
  return text.replace(from, to);
}

const KIDNEY = 'dataset kidney { root "K" cases 9 labels { background 0  kidney 1  tumour 2 } classes { kidney [kidney, tumour] kidney_tumour [tumour] tags [cancer] } }\n';

interface Case { code: keyof typeof DIAGNOSTIC_CODES; title: string; text: string; message?: string; severity?: 'warning' }

const cases: Case[] = [
  { code: 'MT0210', title: 'unused import', severity: 'warning', text: `import "lib.mt"\n${BASE}`, message: 'import "lib.mt" is not used: nothing it declares (or imports) is referenced in /mem/main.mt' },
  { code: 'MT0211', title: 'unused declaration', severity: 'warning', text: `${BASE}\n${KIDNEY}`, message: "dataset 'kidney' is declared but never used" },
  { code: 'MT0312', title: 'class names an undeclared label value', text: 'dataset d { root "D" labels { background 0  liver 1 } classes { tumour [2] } }\n', message: "class 'tumour' names label value 2, which dataset 'd' does not declare" },
  { code: 'MT0313', title: 'exclude a dataset that is not there', text: `${BASE}\n${KIDNEY}experiment e2 extends demo { exclude [kidney] }\n`, message: "experiment 'e2' excludes 'kidney', which is not among its datasets" },
  { code: 'MT0314', title: 'dice_ce with several datasets', text: edit(BASE, 'seed         7', 'seed 7 loss dice_ce'), message: "loss dice_ce (nnU-Net's softmax Dice + cross-entropy) trains one dataset, but experiment 'demo' has 2" },
  { code: 'MT0315', title: 'blocks on a plain U-Net', text: edit(BASE, 'features [8, 16, 32, 64]', 'features [8, 16, 32, 64] blocks [1, 2, 3, 4]'), message: "'blocks' does not apply to a unet architecture (architecture 'small')" },
  { code: 'MT0315', title: 'deep supervision on SwinUNETR', text: edit(BASE, 'kind     unet\n  patch    [32, 32, 32]\n  features [8, 16, 32, 64]', 'kind swin_unetr patch [64, 64, 64] deep_supervision true'), message: "architecture 'small': SwinUNETR has no deep supervision outputs" },
  { code: 'MT0407', title: 'inheritance cycle', text: `${BASE}\nexperiment a extends b { }\nexperiment b extends a { }\n`, message: 'inheritance cycle: a extends b extends a' },
  { code: 'MT0407', title: 'class sets including each other', text: `${BASE}\nclassset x { classes [y] }\nclassset y { classes [x] }\nexperiment r extends demo { report [x] }\n`, message: "class set 'x' includes itself, directly or through other class sets" },
  { code: 'MT0408', title: 'targets outside the datasets', text: `${BASE}\n${KIDNEY}experiment ft { pretrained demo datasets [kidney] schedule short targets [liver.liver] }\n`, message: "targets of experiment 'ft' include 'liver.liver', but 'liver' is not among its datasets" },
  { code: 'MT0305', title: 'SwinUNETR patch not a multiple of 32', text: edit(BASE, 'kind     unet\n  patch    [32, 32, 32]\n  features [8, 16, 32, 64]', 'kind swin_unetr patch [48, 64, 64]'), message: 'patch size 48 on axis z is not divisible by the total stride 32 (SwinUNETR halves every axis 5 times)' },
  { code: 'MT0305', title: 'experiment patch override checked against the strides', text: edit(BASE, 'seed         7', 'seed 7 patch [36, 32, 32]'), message: 'patch size 36 on axis z is not divisible by the total stride 8 (derived strides on z: 1 x 2 x 2 x 2)' },
  { code: 'MT0201', title: 'unknown class of a dataset', text: `${BASE}\nclassset c { classes [liver.livr] }\nexperiment r extends demo { report [c] }\n`, message: "dataset 'liver' has no class 'livr'" },
  { code: 'MT0201', title: 'unknown label name', text: 'dataset d { root "D" labels { background 0  liver 1 } classes { liver [livr] } }\n', message: "unknown label 'livr' in class 'liver'" },
  { code: 'MT0311', title: 'each outside a family', text: edit(BASE, 'seed         7', 'seed 7 folds each(0, 1)') },
  { code: 'MT0304', title: 'spacing nowhere', text: edit(BASE, '  spacing      [4, 4, 4]\n', ''), message: "experiment 'demo' is missing 'spacing' (its architecture 'small' declares none)" },
  { code: 'MT0303', title: 'fold out of range', text: edit(BASE, 'seed         7', 'seed 7 folds [5]'), message: 'fold 5 does not exist: cross-validation has 5 folds, 0 to 4' },
  { code: 'MT0303', title: 'augmentation range reversed', text: `${BASE}\naugmentation a { scaling { p 0.2 range [1.4, 0.7] } }\nexperiment r extends demo { augmentation a }\n`, message: "'range' of 'scaling' runs from 1.4 down to 0.7" },
  { code: 'MT0303', title: 'augmentation probability above 1', text: `${BASE}\naugmentation a { mirror { p 2 } }\nexperiment r extends demo { augmentation a }\n`, message: "'p' of 'mirror' must be between 0 and 1, found 2" },
  { code: 'MT0303', title: 'augmentation range outside what the transform accepts', text: `${BASE}\naugmentation a { low_resolution { p 0.25 range [0.5, 2] } }\nexperiment r extends demo { augmentation a }\n`, message: "'range' of 'low_resolution' (high) must be between 0 and 1, found 2" },
  { code: 'MT0303', title: 'a zoom factor of 0', text: `${BASE}\naugmentation a { scaling { p 0.2 range [0, 1.4] } }\nexperiment r extends demo { augmentation a }\n`, message: "'range' of 'scaling' (low) must be greater than 0, found 0" },
  { code: 'MT0311', title: 'axes on a transform that takes none', text: `${BASE}\naugmentation a { blur { p 0.2 range [0.5, 1] axes [z] } }\nexperiment r extends demo { augmentation a }\n`, message: "'blur' takes no axes" },
  { code: 'MT0311', title: 'a range on mirroring', text: `${BASE}\naugmentation a { mirror { p 0.5 range [0, 1] } }\nexperiment r extends demo { augmentation a }\n`, message: "'mirror' takes no range" },
  { code: 'MT0304', title: 'elastic deformation switched on without a range', text: `${BASE}\naugmentation a { elastic { p 0.1 } }\nexperiment r extends demo { augmentation a }\n`, message: "transform 'elastic' of augmentation 'a' applies with p 0.1 but gives no range (largest displacement in voxels, drawn per axis)" },
  { code: 'MT0304', title: 'a transform without its range', text: `${BASE}\naugmentation a { gamma { p 0.3 } }\nexperiment r extends demo { augmentation a }\n`, message: "transform 'gamma' of augmentation 'a' is missing 'range'" },
  { code: 'MT0302', title: 'extends something that is not an experiment', text: `${BASE}\nexperiment r extends short { }\n`, message: "'short' is a schedule; an experiment can only extend an experiment" },
  { code: 'MT0404', title: 'leakage through a chain of extends', text: `${BASE}\nexperiment pre extends demo { }\nexperiment ft { pretrained pre datasets [liver] schedule short }\n` },
];

describe('checker: the complete language', () => {
  for (const c of cases) {
    it(`${c.code}: ${c.title}`, async () => {
      const ds = await diagnosticsOf(c.text, { '/mem/lib.mt': 'schedule unused_lib { epochs 1 }\n' });
      const d = only(ds, c.code);
      expect(d.severity).toBe(c.severity ?? 'error');
      if (c.message !== undefined) expect(d.message).toBe(c.message);
    });
  }

  it('allow_leakage turns the leakage error off', async () => {
    expect(await diagnosticsOf(`${BASE}\nexperiment ft { pretrained demo datasets [spleen] schedule short allow_leakage true }\n`)).toEqual([]);
  });
});

describe('compile: the complete language', () => {
  it('extends overrides fields and exclude removes datasets (leave-one-out)', async () => {
    const { graph, diagnostics } = await compileText(`${BASE}\n${KIDNEY}experiment all3 extends demo { datasets [liver, spleen, kidney] }\nexperiment loo extends all3 { exclude [kidney] batch 3 }\nexperiment ft { pretrained loo datasets [kidney] schedule short targets [kidney.kidney_tumour] }\n`);
    expect(diagnostics).toEqual([]);
    const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect(train.experiment).toBe('loo');
    expect(train.datasets).toEqual(['liver', 'spleen']);
    expect(train.batch).toBe(3);
    expect(train.seed).toBe(7);
    const ft = graph!.stages.find((s) => s.kind === 'finetune') as FinetuneStage;
    expect(ft.heads).toEqual([{ dataset: 'kidney', name: 'kidney_tumour', labels: [2] }]);
    expect(ft.targets).toEqual(['kidney.kidney_tumour']);
    expect(graph!.datasets.find((d) => d.name === 'kidney')!.labels).toEqual({ background: 0, kidney: 1, tumour: 2 });
    expect(graph!.datasets.find((d) => d.name === 'kidney')!.classes[0].labels).toEqual([1, 2]);
  });

  it('a family expands into one experiment per combination', async () => {
    const text = `${BASE}\n${KIDNEY}family per extends demo { datasets each(liver, kidney) folds each(0, 1, 2) loss dice_ce }\n`;
    const { program, graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    expect(graph!.source.experiments).toEqual(['per_kidney_fold2']);
    const r = compileProgram(program, { experiment: 'per_liver_fold1' });
    const train = r.graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect([train.id, train.datasets, train.fold, train.loss]).toEqual(['train:per_liver_fold1', ['liver'], 1, 'dice_ce']);
  });

  it("lists a profile's transforms in nnU-Net's order, whatever order they are written in", async () => {
    const text = `${BASE}\naugmentation aug { mirror { p 0.5 } gamma { p 0.3 range [0.7, 1.5] } scaling { p 0.2 range [0.7, 1.4] } }\nexperiment r extends demo { augmentation aug }\n`;
    const { graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect(train.augmentation!.transforms.map((t) => t.kind)).toEqual(['scaling', 'gamma', 'mirror']);
  });

  it("stdlib's nnunet_augmentation is nnU-Net's setting of every declared transform", async () => {
    const text = `import "std/augmentation"\n${BASE}\nexperiment r extends demo { augmentation nnunet_augmentation }\n`;
    const program = await programOf(text, {}, { augmentation: readFileSync('stdlib/augmentation.mt', 'utf8') });
    const { graph, diagnostics } = compileProgram(program);
    expect(diagnostics).toEqual([]);
    const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect(train.augmentation).toEqual(nnunetProfile());
    expect(train.augmentation!.transforms.map((t) => t.kind)).toEqual(TRANSFORMS.map((t) => t.kind));
  });

  it('lowers augmentation, precision, folds, evaluation and report class sets', async () => {
    const text = `${BASE}
augmentation aug { rotation { p 0.2 range [-30, 30] } mirror { p 0.5 axes [z, x] } }
sampling s { kind proportional foreground 0.5 }
classset cancer { classes [tagged(cancer)] }
experiment full extends demo { augmentation aug sampling s precision mixed folds all evaluation { tta true step 0.25 metrics [dice, hd95] } report [cancer] }
`;
    const { graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    const trains = graph!.stages.filter((s) => s.kind === 'train') as TrainStage[];
    const train = trains[0];
    expect(train.augmentation).toEqual({ name: 'aug', transforms: [{ kind: 'rotation', p: 0.2, range: [-30, 30], axes: [0, 1, 2] }, { kind: 'mirror', p: 0.5, axes: [0, 2] }] });
    expect(train.sampling).toMatchObject({ kind: 'proportional', foregroundFraction: 0.5 });
    // folds all: one training per fold, gathered by one evaluation.
    expect(trains.map((t) => [t.id, t.fold, t.precision])).toEqual([0, 1, 2, 3, 4].map((k) => [`train:full/fold${k}`, k, 'mixed']));
    const ev = graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage;
    expect(ev.models).toEqual([0, 1, 2, 3, 4].map((k) => ({ fold: k, stage: `train:full/fold${k}` })));
    expect(ev.deps).toEqual([...trains.map((t) => t.id), 'preprocess:demo']);
    expect(ev.inference).toEqual({ stepFraction: 0.25, gaussian: true, mirror: true });
    expect(ev.metrics).toEqual(['dice', 'hd95']);
    const report = graph!.stages.find((s) => s.kind === 'report') as ReportStage;
    expect(report.classSets).toEqual([{ name: 'cancer', classes: ['liver.liver_tumour'] }, { name: 'tag:cancer', classes: ['liver.liver_tumour'] }]);
  });

  it('pretrained can be a checkpoint file', async () => {
    const { graph, diagnostics } = await compileText(edit(BASE, 'seed         7', 'seed 7 pretrained "ckpt/model.json"'));
    expect(diagnostics).toEqual([]);
    // relative to the .mt file naming it (here /mem/main.mt)
    expect((graph!.stages.find((s) => s.kind === 'train') as TrainStage).checkpoint).toBe('/mem/ckpt/model.json');
  });

  it('derives the topology from patch and spacing the nnU-Net way', () => {
    expect(deriveTopology([96, 192, 192], [1.5, 1, 1]).strides).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]);
    const aniso = deriveTopology([20, 256, 256], [5, 0.8, 0.8]);
    expect(aniso.strides.slice(0, 3)).toEqual([[1, 1, 1], [1, 2, 2], [1, 2, 2]]);
    expect(aniso.kernels.slice(0, 3)).toEqual([[1, 3, 3], [1, 3, 3], [3, 3, 3]]);
  });
});

describe('acceptance: the paper in experiments/', () => {
  it('multitalent_md compiles to 47 output classes with the paper sampling shares', async () => {
    for (const name of ['md_unet', 'md_resenc', 'md_swin']) {
      const { graph, diagnostics } = compileProgram(await loadProgram('experiments/multitalent_md.mt'), { experiment: name });
      expect(diagnostics).toEqual([]);
      const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
      expect(train.heads.length).toBe(47);
      expect(train.datasets.length).toBe(13);
      expect(train.sampling.shares.msd_hepatic_vessel).toBeCloseTo(0.136, 3);
      expect(train.sampling.shares.btcv).toBeCloseTo(0.043, 3);
      expect(train.architecture.strides).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], name === 'md_swin' ? [2, 2, 2] : [1, 2, 2]]);
    }
  });

  it('each fine-tune pre-trains without its target', async () => {
    for (const [file, target] of [['kits_finetune', 'kits19'], ['btcv_finetune', 'btcv'], ['amos_finetune', 'amos']]) {
      const { graph, diagnostics } = compileProgram(await loadProgram(`experiments/${file}.mt`));
      expect(diagnostics).toEqual([]);
      const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
      const ft = graph!.stages.find((s) => s.kind === 'finetune') as FinetuneStage;
      expect(train.datasets).not.toContain(target);
      expect(ft.datasets).toEqual([target]);
      expect(ft.batch).toBe(2);
      expect(ft.schedule.phases.map((p) => [p.trains, p.epochs])).toEqual([['heads', 10], ['all', 50], ['all', 940]]);
    }
  });

  it('baselines expand into 13 datasets x 3 architectures x 5 folds', async () => {
    const program = await loadProgram('experiments/baselines.mt');
    const { graph, diagnostics } = compileProgram(program, { experiment: 'baselines_msd_liver_multitalent_resenc_fold3' });
    expect(diagnostics).toEqual([]);
    const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect([train.datasets, train.architecture.kind, train.fold, train.loss]).toEqual([['msd_liver'], 'resenc_unet', 3, 'dice_ce']);
    expect(train.architecture.blocksPerStage).toEqual([1, 2, 3, 4, 4, 4]);
    const swin = compileProgram(program, { experiment: 'baselines_swin_kits19_fold4' });
    expect((swin.graph!.stages.find((s) => s.kind === 'train') as TrainStage).schedule.optimizer.kind).toBe('adamw');
    const { checkProgram } = await import('../../src/compiler/index.js');
    expect(checkProgram(program).diagnostics).toEqual([]);
  });
});
