import { describe, expect, it } from 'vitest';
import { applyOverrides, compileProgram, listExperiments, loadProgram, resolvedSources } from '../../src/compiler/index.js';
import type { Stage, TrainStage } from '../../src/graph/types.js';
import { staticKeys } from '../../src/runtime/executor/keys.js';
import { BASE, programOf } from './helpers.js';

const KIDNEY = 'dataset kidney { root "K" cases 3 classes { kidney [1, 2] } }\n';
const FAMILY = `${BASE}\n${KIDNEY}family lodo extends demo { datasets each([liver, spleen], [liver, kidney]) folds each(0, 1) }\n`;

describe('selecting experiments (-e, --all)', () => {
  it('-e FAMILY selects all of its expansions; --all every experiment of the file', async () => {
    const program = await programOf(FAMILY);
    const fam = compileProgram(program, { experiments: ['lodo'] });
    expect(fam.diagnostics).toEqual([]);
    expect(fam.graph!.source.experiments).toEqual(['lodo_liver_spleen_fold0', 'lodo_liver_spleen_fold1', 'lodo_liver_kidney_fold0', 'lodo_liver_kidney_fold1']);
    const all = compileProgram(program, { all: true });
    expect(all.graph!.source.experiments).toEqual(['demo', ...fam.graph!.source.experiments]);
    // One plan: the experiments on the same datasets share their prepare and preprocess stages.
    const ids = all.graph!.stages.map((s) => s.id);
    expect(ids.filter((i) => i.startsWith('prepare:'))).toEqual(['prepare:liver', 'prepare:spleen', 'prepare:kidney']);
    expect(ids.filter((i) => i.startsWith('preprocess:'))).toEqual(['preprocess:demo', 'preprocess:lodo_liver_kidney_fold0']);
    expect(ids.filter((i) => i.startsWith('train:'))).toEqual(['train:demo', ...fam.graph!.source.experiments.map((e) => `train:${e}`)]);
    expect((all.graph!.stages.find((s) => s.id === 'train:lodo_liver_spleen_fold1') as TrainStage).data).toBe('preprocess:demo');
  });

  it('-e takes globs and repeats; each experiment once, in the order asked', async () => {
    const program = await programOf(FAMILY);
    const r = compileProgram(program, { experiments: ['lodo_*_fold1', 'demo', 'lodo_liver_spleen_fold1'] });
    expect(r.graph!.source.experiments).toEqual(['lodo_liver_spleen_fold1', 'lodo_liver_kidney_fold1', 'demo']);
  });

  it('says what a pattern that selects nothing could have meant', async () => {
    const program = await programOf(FAMILY);
    const none = compileProgram(program, { experiments: ['lodo_*_fold7'] });
    expect(none.graph).toBeNull();
    expect(none.diagnostics.map((d) => [d.code, d.message])).toEqual([['MT0207', "-e 'lodo_*_fold7' matches no experiment of /mem/main.mt or its imports"]]);
    const typo = compileProgram(program, { experiments: ['lodoo'] });
    expect(typo.diagnostics.map((d) => d.hint)).toEqual(["did you mean 'lodo'?"]);
    const kind = compileProgram(program, { experiments: ['liver'] });
    expect(kind.diagnostics.map((d) => d.message)).toEqual(["'liver' is a dataset, not an experiment"]);
  });

  it('lists a file\'s experiments, expansions included (mtc compile --list)', async () => {
    const { experiments } = listExperiments(await loadProgram('experiments/baselines.mt'));
    expect(experiments.length).toBe(1 + 13 * 2 * 5 + 13 * 5);
    expect(experiments[0]).toEqual({ name: 'baseline', file: 'experiments/baselines.mt', family: null, pretrained: null });
    expect(experiments[1]).toMatchObject({ name: 'baselines_msd_liver_multitalent_unet_fold0', family: 'baselines' });
    const q = listExperiments(await loadProgram('experiments/quickstart.mt')).experiments;
    expect(q.map((e) => [e.name, e.pretrained])).toEqual([['quickstart_pretrain', null], ['quickstart', 'quickstart_pretrain']]);
  });
});

describe('folds and fine-tune chains in the graph', () => {
  it('folds none: one training on every case, fine-tuned from as usual; run alone it has nothing to evaluate', async () => {
    const ft = 'experiment ft { pretrained demo datasets [kidney] schedule short folds [1] }';
    const text = `${BASE.replace('seed         7', 'seed 7 folds none')}\n${KIDNEY}${ft}\n`;
    const program = await programOf(text);
    const chain = compileProgram(program);
    expect(chain.diagnostics).toEqual([]);
    const train = chain.graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect([train.id, train.fold]).toEqual(['train:demo', null]);
    expect(chain.graph!.stages.find((s) => s.kind === 'finetune')).toMatchObject({ id: 'finetune:ft', fold: 1, from: 'train:demo' });
    expect(chain.graph!.stages.find((s) => s.kind === 'evaluate')).toMatchObject({ models: [{ fold: 1, stage: 'finetune:ft' }] });
    const alone = compileProgram(program, { experiment: 'demo' });
    expect(alone.diagnostics).toEqual([]);
    expect(alone.graph!.stages.map((s) => s.kind)).toEqual(['prepare', 'prepare', 'preprocess', 'train']);
  });

  it('a fine-tune with folds all: five fine-tunes from one pre-trained model, one cross-validation', async () => {
    const program = await loadProgram('experiments/kits_finetune.mt');
    const { graph, diagnostics } = compileProgram(program);
    expect(diagnostics).toEqual([]);
    const ids = graph!.stages.map((s) => s.id);
    // md_unet_without_kits has `folds all` (from md_unet), but a chain trains it once: its first fold.
    expect(ids.filter((i) => i.startsWith('train:'))).toEqual(['train:md_unet_without_kits/fold0']);
    const fts = graph!.stages.filter((s) => s.kind === 'finetune');
    expect(fts.map((s) => [s.id, (s as { fold: number }).fold, (s as { from: string }).from])).toEqual(
      [0, 1, 2, 3, 4].map((k) => [`finetune:kits_finetune/fold${k}`, k, 'train:md_unet_without_kits/fold0']),
    );
    const ev = graph!.stages.find((s) => s.kind === 'evaluate')!;
    expect(ev).toMatchObject({ models: [0, 1, 2, 3, 4].map((k) => ({ fold: k, stage: `finetune:kits_finetune/fold${k}` })), data: 'preprocess:kits19@md_unet_without_kits' });
  });

  it('#17 item 5: the pre-training of a chain is exactly the experiment run alone, and its target uses its statistics', async () => {
    const program = await loadProgram('experiments/kits_finetune.mt');
    const chain = compileProgram(program).graph!;
    const alone = compileProgram(program, { experiment: 'md_unet_without_kits' }).graph!;
    const pick = (ids: string[], g: typeof chain) => ids.map((id) => g.stages.find((s) => s.id === id));
    const shared = ['preprocess:md_unet_without_kits', 'train:md_unet_without_kits/fold0'];
    expect(pick(shared, chain)).toEqual(pick(shared, alone));
    // Same stages, same keys: the chain's pre-training is the stored one of the experiment alone.
    const [kc, ka] = [staticKeys(chain, 'cpu'), staticKeys(alone, 'cpu')];
    for (const id of shared) expect(kc.get(id), id).toBe(ka.get(id));
    const pre = chain.stages.find((s) => s.id === 'preprocess:md_unet_without_kits') as Stage & { datasets: string[] };
    expect(pre.datasets).not.toContain('kits19');
    expect(chain.stages.find((s) => s.id === 'preprocess:kits19@md_unet_without_kits')).toMatchObject({ datasets: ['kits19'], normalization: { statsFrom: 'preprocess:md_unet_without_kits' } });
  });

  it('the MD networks share one preprocessing; every dataset keeps its own split', async () => {
    const { graph } = compileProgram(await loadProgram('experiments/multitalent_md.mt'), { all: true });
    const pre = graph!.stages.filter((s) => s.kind === 'preprocess');
    expect(pre.map((s) => s.id)).toEqual(['preprocess:md_unet']);
    const trains = graph!.stages.filter((s) => s.kind === 'train') as TrainStage[];
    expect(trains.length).toBe(15);
    expect(new Set(trains.map((t) => JSON.stringify(t.split)))).toEqual(new Set([JSON.stringify({ folds: 5, seed: 12345 })]));
  });
});

describe('resolved.mt', () => {
  it('compiles to the same stages with the same keys (imports, inheritance and --set inlined)', async () => {
    const loaded = await loadProgram('experiments/kits_finetune.mt');
    const { program } = applyOverrides(loaded, ['kits_finetune.batch=3', 'multitalent_finetune.iterations=7'], 'kits_finetune');
    const original = compileProgram(program).graph!;
    const [text] = resolvedSources(program, ['kits_finetune']).values();
    expect(text).not.toContain('import');
    expect(text).not.toContain('extends');
    expect(text).toMatch(/\n {2}batch +3\n/);
    expect(text).toContain('  datasets [\n    msd_liver, msd_lung,');
    expect(text.trimEnd().split('\n').filter((l) => l.startsWith('experiment ')).at(-1)).toBe('experiment kits_finetune {');
    const again = compileProgram(await programOf(text)).graph!;
    expect(again.source.experiments).toEqual(['kits_finetune']);
    expect(again.stages).toEqual(original.stages);
    expect([...staticKeys(again, 'cpu').values()]).toEqual([...staticKeys(original, 'cpu').values()]);
  });

  it('prints declarations that extend others with their merged fields', async () => {
    const text = `${BASE}\nschedule longer extends short { epochs 30 }\narchitecture wide extends small { features [16, 32, 64, 128] }\nexperiment big extends demo { schedule longer  architecture wide }\n`;
    const program = await programOf(text);
    const original = compileProgram(program).graph!;
    const [resolved] = resolvedSources(program, ['big']).values();
    expect(resolved).not.toContain('extends');
    expect(resolved).toMatch(/schedule longer \{\n {2}epochs +30\n {2}iterations 5\n\}/);
    // The preprocessing stage is labelled after the first experiment that needs it (demo there, big
    // here): ids are labels, the keys are equal.
    const again = compileProgram(await programOf(resolved)).graph!;
    expect(again.stages.map((s) => s.id)).toEqual(original.stages.map((s) => s.id.replace('preprocess:demo', 'preprocess:big')));
    expect([...staticKeys(again, 'cpu').values()]).toEqual([...staticKeys(original, 'cpu').values()]);
  });

  it('prints a family member as a plain experiment', async () => {
    const program = await loadProgram('experiments/baselines.mt');
    const name = 'baselines_kits19_multitalent_resenc_fold3';
    const [text] = resolvedSources(program, [name]).values();
    expect(text).toContain(`experiment ${name} {`);
    expect(text).not.toMatch(/\bfamily\b|each\(/);
    const a = compileProgram(program, { experiment: name }).graph!;
    const b = compileProgram(await programOf(text)).graph!;
    expect(b.stages).toEqual(a.stages);
  });
});
