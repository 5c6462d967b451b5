// Issue #17 items 1 and 6: hints that name the fix (stdlib imports, `folds 5`, import paths) and wording.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkProgram, loadProgramWith, memoryHost, type Diagnostic } from '../../src/compiler/index.js';
import { BASE, diagnosticsOf } from './helpers.js';

/** The package's real stdlib, as memoryHost modules (`datasets/msd` -> its text). */
const STDLIB = Object.fromEntries(
  (readdirSync('stdlib', { recursive: true }) as string[]).filter((f) => f.endsWith('.mt')).map((f) => [f.slice(0, -3), readFileSync(`stdlib/${f}`, 'utf8')]),
);

async function check(main: string, others: Record<string, string> = {}): Promise<Diagnostic[]> {
  return checkProgram(await loadProgramWith('/mem/main.mt', memoryHost({ '/mem/main.mt': main, ...others }, STDLIB))).diagnostics;
}

const hints = (ds: Diagnostic[]) => ds.map((d) => [d.code, d.message, d.hint]);

describe('a name the program lacks but the stdlib declares', () => {
  const experiment = (imports: string, body: string) => `${imports}
experiment e {
  datasets     [msd_liver]
  architecture multitalent_unet
  schedule     nnunet_default
  ${body}
}
`;

  it('names the import to add, for every kind of reference', async () => {
    const ds = await check(experiment('', 'sampling multitalent_sampling\n  augmentation nnunet_augmentation\n  report [md_cancer]'));
    expect(hints(ds)).toEqual([
      ['MT0201', "unknown dataset 'msd_liver'", 'dataset \'msd_liver\' is in the standard library: add import "std/datasets/msd"'],
      ['MT0201', "unknown architecture 'multitalent_unet'", 'architecture \'multitalent_unet\' is in the standard library: add import "std/architectures"'],
      ['MT0201', "unknown schedule 'nnunet_default'", 'schedule \'nnunet_default\' is in the standard library: add import "std/schedules"'],
      ['MT0201', "unknown sampling 'multitalent_sampling'", 'sampling \'multitalent_sampling\' is in the standard library: add import "std/sampling"'],
      ['MT0201', "unknown augmentation 'nnunet_augmentation'", 'augmentation \'nnunet_augmentation\' is in the standard library: add import "std/augmentation"'],
      ['MT0201', "unknown classset 'md_cancer'", 'classset \'md_cancer\' is in the standard library: add import "std/datasets/multitalent"'],
    ]);
  });

  it('the hint is right: adding the imports makes the file check clean', async () => {
    const imports = ['std/datasets/msd', 'std/architectures', 'std/schedules', 'std/sampling', 'std/augmentation'].map((m) => `import "${m}"`).join('\n');
    expect(await check(experiment(imports, 'sampling multitalent_sampling\n  augmentation nnunet_augmentation'))).toEqual([]);
  });

  it('a misspelled stdlib name gets did-you-mean with the import', async () => {
    const ds = await check(experiment('import "std/datasets/msd"\nimport "std/architectures"', '').replace('nnunet_default', 'nnunet_defualt'));
    expect(hints(ds)).toEqual([['MT0201', "unknown schedule 'nnunet_defualt'", 'did you mean \'nnunet_default\'? It is in the standard library: add import "std/schedules"']]);
  });

  it('a stdlib name of another kind is not offered as the fix', async () => {
    const ds = await check(experiment('import "std/datasets/msd"\nimport "std/schedules"', '').replace('architecture multitalent_unet', 'architecture nnunet_default'));
    expect(ds.map((d) => d.code)).toEqual(['MT0302']);
  });

  it('a sampling kind is still read as a kind, and an unknown word still lists the kinds', async () => {
    const imports = 'import "std/datasets/msd"\nimport "std/architectures"\nimport "std/schedules"';
    expect(await check(experiment(imports, 'sampling proportional'))).toEqual([]);
    expect(hints(await check(experiment(imports, 'sampling inverse_sqr')))).toEqual([
      ['MT0308', "unknown sampling 'inverse_sqr'; expected one of 'inverse_sqrt', 'uniform', 'proportional'", "did you mean 'inverse_sqrt'?"],
    ]);
  });

  it('a name the stdlib does not declare keeps the other hints', async () => {
    const ds = await diagnosticsOf(BASE.replace('schedule     short', 'schedule     nnunet_default'));
    expect(hints(ds)).toEqual([['MT0201', "unknown schedule 'nnunet_default'", 'known schedules: short']]);
  });
});

describe('MT0208: the import to add is written as the importing file would write it', () => {
  const uses = (schedule: string) => `dataset d { root "D" classes { x [1] } }\narchitecture a { patch [32, 32, 32] }\nexperiment base { datasets [d] architecture a schedule ${schedule} spacing [1, 1, 1] }\n`;

  it('a path relative to the importing file', async () => {
    const ds = await check('import "sub/a.mt"\nimport "lib/b.mt"\nexperiment e extends base { }\n', { '/mem/sub/a.mt': uses('s'), '/mem/lib/b.mt': 'schedule s { epochs 1 }\n' });
    expect(hints(ds)).toEqual([['MT0208', "schedule 's' is declared in /mem/lib/b.mt, which this file does not import", 'add: import "../lib/b.mt"']]);
  });

  it('std/NAME for the stdlib', async () => {
    const ds = await check('import "sub/a.mt"\nimport "std/schedules"\nexperiment e extends base { }\n', { '/mem/sub/a.mt': uses('nnunet_default') });
    expect(hints(ds)).toEqual([['MT0208', "schedule 'nnunet_default' is declared in std/schedules.mt, which this file does not import", 'add: import "std/schedules"']]);
  });
});

describe('folds', () => {
  const withFolds = (v: string) => BASE.replace('seed         7', `seed 7 folds ${v}`);

  it('`folds 5` suggests folds all', async () => {
    expect(hints(await diagnosticsOf(withFolds('5')))).toEqual([
      ['MT0301', "'folds' expects a list of fold numbers 0 to 4, or all, found number 5", 'write folds all for the 5-fold cross-validation (folds 0 to 4), or a list such as folds [0]'],
    ]);
  });

  it('`folds 2` suggests fold 2 alone or all of them', async () => {
    expect(hints(await diagnosticsOf(withFolds('2')))).toEqual([
      ['MT0301', "'folds' expects a list of fold numbers 0 to 4, or all, found number 2", 'write folds [2] for fold 2 alone, or folds all for the 5-fold cross-validation'],
    ]);
  });

  it('the suggestion checks clean', async () => {
    expect(await diagnosticsOf(withFolds('all'))).toEqual([]);
  });
});

describe('carets', () => {
  it('MT0408 points at the offending item of the targets list, one error per item', async () => {
    const text = `${BASE}\ndataset kidney { root "K" cases 3 classes { kidney [1]  tumour [2] } }\nexperiment ft { pretrained demo datasets [kidney] schedule short targets [kidney.tumour, liver.liver, spleen] }\n`;
    const ds = await diagnosticsOf(text);
    expect(ds.map((d) => [d.code, text.slice(d.span.start.offset, d.span.end.offset), d.message])).toEqual([
      ['MT0408', 'liver.liver', "targets of experiment 'ft' include 'liver.liver', but 'liver' is not among its datasets"],
      ['MT0408', 'spleen', "targets of experiment 'ft' include 'spleen.spleen', but 'spleen' is not among its datasets"],
    ]);
  });
});

describe('wording', () => {
  it('articles: "an experiment", "an architecture", "an evaluation"', async () => {
    const ds = await diagnosticsOf(BASE.replace('seed         7', 'seed 7 root "x"').replace('epochs     10', 'epochs 10 datasets [liver]'));
    expect(ds.map((d) => d.hint)).toEqual(["'datasets' belongs in an experiment block, not a schedule", "'root' belongs in a dataset block, not an experiment"]);
    const reserved = await diagnosticsOf('architecture epochs { patch [8, 8, 8] }\n');
    expect(reserved.map((d) => d.message)).toEqual(["'epochs' is a reserved word and cannot name an architecture"]);
  });
});
