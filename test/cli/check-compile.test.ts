import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { validateGraph } from '../../src/graph/validate.js';
import { captureIO } from './helpers.js';

describe('mtc check', () => {
  it('passes the quickstart with exit 0', async () => {
    const io = captureIO();
    expect(await main(['check', 'experiments/quickstart.mt'], io)).toBe(0);
  });

  it('reports a misspelled reference, a missing brace, an unknown keyword and a wrong type, each with line:col, exit 1', async () => {
    const io = captureIO();
    const code = await main(['check', 'test/compiler/fixtures/acceptance.mt'], io);
    expect(code).toBe(1);
    const text = io.stderr.join('\n');
    expect(text).toMatch(/acceptance\.mt:11:1: error\[MT\d+\]: expected '}'/);
    expect(text).toMatch(/acceptance\.mt:26:14: error\[MT\d+\]/);
    expect(text).toMatch(/acceptance\.mt:31:17: error\[MT\d+\]: .*'livr'/);
    expect(text).toMatch(/acceptance\.mt:35:3: error\[MT\d+\]: .*'bacth'/);
    expect(text).toContain('^');
    expect(text).not.toMatch(/\n\s+at .*\.(ts|js):\d+/); // no stack trace
  });

  it('turns garbage input into diagnostics, never a crash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-check-'));
    const file = join(dir, 'garbage.mt');
    await writeFile(file, Buffer.from([0, 255, 254, 10, 123, 34, 7, 125, 125, 40]));
    const io = captureIO();
    expect(await main(['check', file], io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('garbage.mt:');
  });

  it('prints the error summary once, with plurals that read right (issue #17)', async () => {
    const io = captureIO();
    expect(await main(['check', 'test/compiler/fixtures/acceptance.mt'], io)).toBe(1);
    const text = io.stderr.join('\n');
    const summaries = text.split('\n').filter((l) => /^\d+ errors?\b/.test(l) || /error\(s\)/.test(l));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatch(/^\d+ errors in 1 file$/);
    const ok = captureIO();
    expect(await main(['check', 'experiments/quickstart.mt', 'experiments/baselines.mt'], ok)).toBe(0);
    expect(ok.stderr).toEqual(['ok: 2 files checked']);
  });

  it('reports a missing file as a diagnostic, exit 1', async () => {
    const io = captureIO();
    expect(await main(['check', 'does/not/exist.mt'], io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('exist.mt');
  });
});

describe('mtc compile', () => {
  it('prints a schema-valid graph with every stage and its dependencies (yaml and json)', async () => {
    const yamlIO = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt'], yamlIO)).toBe(0);
    const graph = validateGraph(parseYaml(yamlIO.stdout.join('\n')));
    expect(graph.stages.map((s) => s.kind)).toEqual(['prepare', 'prepare', 'prepare', 'prepare', 'prepare', 'preprocess', 'train', 'preprocess', 'finetune', 'evaluate', 'report']);
    const ft = graph.stages.find((s) => s.kind === 'finetune');
    expect(ft?.deps).toContain('train:quickstart_pretrain');

    const jsonIO = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt', '--format', 'json'], jsonIO)).toBe(0);
    expect(JSON.parse(jsonIO.stdout.join('\n'))).toEqual(graph);
  });

  it('--list lists the experiments of a file, family expansions included', async () => {
    const io = captureIO();
    expect(await main(['compile', 'experiments/baselines.mt', '--list'], io)).toBe(0);
    expect(io.stdout[0]).toBe('baseline');
    expect(io.stdout[1]).toMatch(/^baselines_msd_liver_multitalent_unet_fold0 +\(family baselines\)$/);
    expect(io.stdout.at(-1)).toBe('196 experiments; -e baselines selects all of family baselines; the last one is the default of mtc run');
    const q = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt', '--list', '--format', 'json'], q)).toBe(0);
    expect((JSON.parse(q.stdout.join('\n')) as Array<{ name: string; pretrained: string | null }>).map((e) => [e.name, e.pretrained])).toEqual([['quickstart_pretrain', null], ['quickstart', 'quickstart_pretrain']]);
  });

  it('-e FAMILY and --all compile every expansion into one graph', async () => {
    const io = captureIO();
    expect(await main(['compile', 'experiments/baselines.mt', '-e', 'baselines_swin', '--format', 'json'], io)).toBe(0);
    const g = JSON.parse(io.stdout.join('\n')) as { source: { experiments: string[] }; stages: Array<{ id: string }> };
    expect(g.source.experiments.length).toBe(65);
    expect(g.stages.filter((s) => s.id.startsWith('prepare:')).length).toBe(13);
  });

  it('exits 1 with diagnostics and no graph when the source has errors', async () => {
    const io = captureIO();
    expect(await main(['compile', 'test/compiler/fixtures/acceptance.mt'], io)).toBe(1);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toContain('not compiled');
  });

  it("the quickstart's comment on `cases` is true: mtc compile shows the sampling shares they give", async () => {
    const comment = readFileSync('experiments/quickstart.mt', 'utf8');
    expect(comment).toContain('the sampling shares come from it: `mtc compile` shows them as each training stage\'s\n// `sampling.shares`');
    const io = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt', '--format', 'json'], io)).toBe(0);
    const train = validateGraph(JSON.parse(io.stdout.join('\n'))).stages.find((s) => s.kind === 'train');
    if (train?.kind !== 'train') throw new Error('no train stage');
    // inverse_sqrt: a dataset's share is proportional to sqrt(cases): 12, 8, 6 and 10 cases.
    const root = Math.sqrt(12) + Math.sqrt(8) + Math.sqrt(6) + Math.sqrt(10);
    expect(train.sampling.shares.synth_liver).toBeCloseTo(Math.sqrt(12) / root, 6);
    expect(train.sampling.shares.synth_abdomen).toBeCloseTo(Math.sqrt(6) / root, 6);
  });

  it('prints the error count once: in the "not compiled" line', async () => {
    const io = captureIO();
    expect(await main(['compile', 'test/compiler/fixtures/acceptance.mt'], io)).toBe(1);
    const lines = io.stderr.join('\n').split('\n');
    expect(lines.filter((l) => /\d+ errors?/.test(l))).toEqual([expect.stringMatching(/^mtc: test\/compiler\/fixtures\/acceptance\.mt: not compiled \(\d+ errors\)$/)]);
  });

  it('--set works on the family expansion that -e selects (issue #17)', async () => {
    const io = captureIO();
    const e = 'baselines_kits19_multitalent_unet_fold0';
    expect(await main(['compile', 'experiments/baselines.mt', '-e', e, '--set', 'batch=3', '--set', `${e}.evaluation={ tta false }`, '--format', 'json'], io)).toBe(0);
    const graph = validateGraph(JSON.parse(io.stdout.join('\n')));
    const train = graph.stages.find((s) => s.kind === 'train');
    const ev = graph.stages.find((s) => s.kind === 'evaluate');
    expect([graph.source.experiments[0], train?.kind === 'train' && train.batch, ev?.kind === 'evaluate' && ev.inference.mirror]).toEqual([e, 3, false]);
  });

  it("MT0006's hint names the referenced declaration, and that override compiles", async () => {
    const io = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt', '--set', 'quickstart.schedule.epochs=10'], io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('hint: set the field of \'short_finetune\' itself: --set short_finetune.epochs=10');
    const fixed = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt', '--set', 'short_finetune.epochs=10', '--format', 'json'], fixed)).toBe(0);
    const ft = validateGraph(JSON.parse(fixed.stdout.join('\n'))).stages.find((s) => s.kind === 'finetune');
    expect(ft?.kind === 'finetune' && ft.schedule.epochs).toBe(10);
  });

  it('rejects an unknown format through commander, without a stack trace', async () => {
    const io = captureIO();
    expect(await main(['compile', 'experiments/quickstart.mt', '--format', 'xml'], io)).toBe(1);
    expect(io.stderr.join('\n')).toContain('xml');
  });
});
