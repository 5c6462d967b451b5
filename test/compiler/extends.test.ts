// Issue #17 item 6: schedules and architectures (and samplings, augmentation profiles) extend; exclude each(...).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileProgram, formatSource, loadProgramWith, memoryHost } from '../../src/compiler/index.js';
import type { TrainStage } from '../../src/graph/index.js';
import { BASE, compileText, diagnosticsOf } from './helpers.js';

const train = (graph: { stages: Array<{ kind: string }> } | null) => graph!.stages.find((s) => s.kind === 'train') as TrainStage;

describe('extends on schedules, architectures, samplings and augmentation profiles', () => {
  it('a schedule changes one field of the stdlib multitalent_pretrain', async () => {
    const main = `import "std/schedules"
import "std/architectures"
dataset a { root "A" cases 3 classes { x [1] } }
schedule half extends multitalent_pretrain { epochs 1000 }
experiment e { datasets [a] architecture multitalent_unet schedule half }
`;
    const host = memoryHost({ '/mem/m.mt': main }, { schedules: readFileSync('stdlib/schedules.mt', 'utf8'), architectures: readFileSync('stdlib/architectures.mt', 'utf8') });
    const { graph, diagnostics } = compileProgram(await loadProgramWith('/mem/m.mt', host));
    expect(diagnostics).toEqual([]);
    const s = train(graph).schedule;
    expect([s.name, s.epochs, s.iterationsPerEpoch, s.clipNorm, s.optimizer]).toEqual(['half', 1000, 250, 12, { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 }]);
    expect(s.phases).toEqual([{ trains: 'all', epochs: 1000, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 }, optimizer: s.optimizer }]);
  });

  it('phases given by the child replace all of the parent\'s; otherwise they are inherited', async () => {
    const text = `${BASE}
schedule ft { epochs 20 phase heads { epochs 2 lr linear(0, 0.01) } phase all { epochs rest lr poly(0.01, 0.9) } }
schedule ft_long extends ft { epochs 40 }
schedule ft_one extends ft { phase all { epochs rest lr constant(0.001) } }
experiment a extends demo { schedule ft_long }
experiment b extends demo { schedule ft_one }
`;
    const long = await compileText(text, 'a');
    expect(long.diagnostics).toEqual([]);
    expect(train(long.graph).schedule.phases.map((p) => [p.trains, p.epochs])).toEqual([['heads', 2], ['all', 38]]);
    const one = await compileText(text, 'b');
    expect(train(one.graph).schedule.phases).toEqual([
      { trains: 'all', epochs: 20, lr: { kind: 'constant', value: 0.001 }, optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } },
    ]);
  });

  it('an architecture changes its patch; the topology is derived again', async () => {
    const { graph, diagnostics } = await compileText(`${BASE}\narchitecture bigger extends small { patch [64, 64, 64] }\nexperiment r extends demo { architecture bigger }\n`);
    expect(diagnostics).toEqual([]);
    const arch = train(graph).architecture;
    expect([arch.name, arch.patch, arch.features]).toEqual(['bigger', [64, 64, 64], [8, 16, 32, 64]]);
  });

  it('an augmentation profile overrides one transform in place (transform order is kept)', async () => {
    const text = `${BASE}
augmentation base { rotation { p 0.2 range [-30, 30] } scaling { p 0.2 range [0.7, 1.4] } mirror { p 0.5 axes [z, y, x] } }
augmentation gentle extends base { rotation { p 0.1 range [-10, 10] } }
experiment r extends demo { augmentation gentle }
`;
    const { graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    expect(train(graph).augmentation!.transforms.map((t) => [t.kind, t.p])).toEqual([['rotation', 0.1], ['scaling', 0.2], ['mirror', 0.5]]);
    expect(train(graph).augmentation!.name).toBe('gentle');
  });

  it('a sampling extends a sampling', async () => {
    const { graph, diagnostics } = await compileText(`${BASE}\nsampling s { kind proportional foreground 0.33 }\nsampling s2 extends s { foreground 0.5 }\nexperiment r extends demo { sampling s2 }\n`);
    expect(diagnostics).toEqual([]);
    expect(train(graph).sampling).toMatchObject({ kind: 'proportional', foregroundFraction: 0.5 });
  });

  it('the parent must be of the same kind (MT0302), known (MT0201), and not loop (MT0407)', async () => {
    const wrong = await diagnosticsOf(`${BASE}\nschedule s extends small { epochs 3 }\nexperiment r extends demo { schedule s }\n`);
    expect(wrong.map((d) => [d.code, d.message])).toEqual([['MT0302', "'small' is an architecture; a schedule can only extend a schedule"]]);
    const unknown = await diagnosticsOf(`${BASE}\nschedule s extends shortt { epochs 3 }\nexperiment r extends demo { schedule s }\n`);
    expect(unknown.map((d) => [d.code, d.hint])).toEqual([['MT0201', "did you mean 'short'?"]]);
    const loop = await diagnosticsOf(`${BASE}\nschedule s1 extends s2 { epochs 3 }\nschedule s2 extends s1 { }\nexperiment r extends demo { schedule s1 }\n`);
    expect(loop.map((d) => [d.code, d.message, d.hint])).toEqual([['MT0407', 'inheritance cycle: s1 extends s2 extends s1', 'a schedule cannot extend itself, directly or through others; break the chain']]);
  });

  it('a parent\'s bad field is reported once, where it is written', async () => {
    const ds = await diagnosticsOf(`${BASE}\nschedule s1 { epochs 0 }\nschedule s2 extends s1 { iterations 3 }\nexperiment r extends demo { schedule s2 }\n`);
    expect(ds.map((d) => [d.code, d.span.start.line])).toEqual([['MT0303', BASE.split('\n').length + 1]]);
  });

  it('datasets and class sets still cannot extend (MT0311)', async () => {
    const ds = await diagnosticsOf(`${BASE}\ndataset liver2 extends liver { root "L2" classes { liver [1] } }\n`);
    expect(ds.filter((d) => d.code === 'MT0311').map((d) => d.message)).toEqual(['a dataset cannot extend another declaration']);
  });

  it('mtc fmt keeps extends on every kind', () => {
    const text = 'schedule half extends multitalent_pretrain { epochs 1000 }\n';
    expect(formatSource('x.mt', text).text).toBe(text);
  });
});

describe('exclude each(...)', () => {
  const KIDNEY = 'dataset kidney { root "K" cases 9 classes { kidney [1, 2] } }\n';

  it('accepts single names, as datasets each(...) does: one leave-one-out experiment per dataset', async () => {
    const text = `${BASE}${KIDNEY}experiment all3 extends demo { datasets [liver, spleen, kidney] }\nfamily lodo extends all3 { exclude each(liver, spleen, kidney) }\n`;
    const { program, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    const got = ['lodo_liver', 'lodo_spleen', 'lodo_kidney'].map((e) => train(compileProgram(program, { experiment: e }).graph).datasets);
    expect(got).toEqual([['spleen', 'kidney'], ['liver', 'kidney'], ['liver', 'spleen']]);
  });

  it('lists still work and name the expansion by their items', async () => {
    const { program, diagnostics } = await compileText(`${BASE}${KIDNEY}experiment all3 extends demo { datasets [liver, spleen, kidney] }\nfamily lodo extends all3 { exclude each([liver, spleen], kidney) }\n`);
    expect(diagnostics).toEqual([]);
    expect(train(compileProgram(program, { experiment: 'lodo_liver_spleen' }).graph).datasets).toEqual(['kidney']);
  });
});
