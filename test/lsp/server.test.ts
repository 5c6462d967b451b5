import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionItem, DocumentSymbol, Hover, Location, TextEdit } from 'vscode-languageserver';
import { checkProgram, formatSource, loadProgram } from '../../src/compiler/index.js';
import { BASE } from '../compiler/helpers.js';
import { LspClient, uriOf } from './client.js';

/** Line/character (0-based) of the `n`th occurrence of `needle` in `text`, plus `shift` characters. */
function positionOf(text: string, needle: string, shift = 0, n = 0): { line: number; character: number } {
  let at = -1;
  for (let i = 0; i <= n; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`test bug: '${needle}' not found`);
  const before = text.slice(0, at + shift);
  const line = before.split('\n').length - 1;
  return { line, character: before.length - (before.lastIndexOf('\n') + 1) };
}

const labels = (items: CompletionItem[]) => items.map((i) => i.label).sort();

let client: LspClient;
const dir = mkdtempSync(join(tmpdir(), 'mt-lsp-'));

beforeAll(async () => {
  client = await LspClient.start();
}, 180_000);

afterAll(async () => {
  expect(await client.stop()).toBe(0);
});

describe('mtc lsp --stdio: diagnostics', () => {
  it("publishes mtc check's diagnostics with their codes, at the right range after an edit", async () => {
    const path = join(dir, 'edit.mt');
    const text = BASE.replace('architecture small\n', 'architecture smal\n');
    writeFileSync(path, text);
    const uri = client.open(path, text);
    const first = await client.diagnosticsFor(uri, 1);
    expect(first.map((d) => [d.code, d.source, String(d.message).split('\n')[0]])).toEqual([['MT0201', 'mtc', "unknown architecture 'smal'"]]);
    expect(first[0].message).toContain("hint: did you mean 'small'?");
    expect(first[0].range).toEqual({ start: positionOf(text, 'smal\n'), end: positionOf(text, 'smal\n', 4) });

    // Fix it and break the schedule two lines below, with an incremental edit of each.
    client.edit(uri, 2, { start: positionOf(text, 'smal\n', 4), end: positionOf(text, 'smal\n', 4) }, 'l');
    const fixed = text.replace('smal\n', 'small\n');
    client.edit(uri, 3, { start: positionOf(fixed, 'short\n  spacing'), end: positionOf(fixed, 'short\n  spacing', 5) }, 'shrt');
    const broken = fixed.replace('short\n  spacing', 'shrt\n  spacing');
    const second = await client.diagnosticsFor(uri, 3);
    expect(second.map((d) => [d.code, d.range])).toEqual([['MT0201', { start: positionOf(broken, 'shrt'), end: positionOf(broken, 'shrt', 4) }]]);
    // The same as mtc check on that text.
    writeFileSync(path, broken);
    const cli = checkProgram(await loadProgram(path)).diagnostics;
    expect(cli.map((d) => [d.code, d.span.start.line - 1, d.span.start.column - 1])).toEqual(second.map((d) => [d.code, d.range.start.line, d.range.start.character]));
    client.close(uri);
  });

  it('shows nothing for the shipped files, like mtc check', async () => {
    for (const file of ['experiments/multitalent_md.mt', 'experiments/kits_finetune.mt', 'stdlib/datasets/msd.mt']) {
      const uri = client.open(resolve(file), readFileSync(file, 'utf8'));
      expect(await client.diagnosticsFor(uri, 1), file).toEqual([]);
      client.close(uri);
    }
  });

  it("rechecks a file's importers when it changes", async () => {
    const lib = join(dir, 'lib.mt');
    const main = join(dir, 'main.mt');
    const libText = 'dataset liver { root "L" cases 4 classes { liver [1] } }\nschedule short { epochs 2 }\narchitecture small { patch [32, 32, 32] features [8, 16, 32, 64] }\n';
    const mainText = 'import "lib.mt"\nexperiment e { datasets [liver] architecture small schedule short spacing [2, 2, 2] }\n';
    writeFileSync(lib, libText);
    writeFileSync(main, mainText);
    const libUri = client.open(lib, libText);
    const mainUri = client.open(main, mainText);
    expect(await client.diagnosticsFor(mainUri, 1)).toEqual([]);
    client.change(libUri, 2, libText.replace('dataset liver', 'dataset livers'));
    await client.diagnosticsFor(libUri, 2);
    const after = await client.diagnosticsFor(mainUri, 1);
    await expect.poll(() => client.diagnostics.get(mainUri)?.diagnostics.map((d) => d.code)).toEqual(['MT0201']);
    expect(after.length).toBeGreaterThanOrEqual(0);
    client.close(libUri);
    client.close(mainUri);
  });

  it('reports problems of an imported file that is not open, in that file', async () => {
    const lib = join(dir, 'badlib.mt');
    const main = join(dir, 'usesbad.mt');
    writeFileSync(lib, 'schedule short { epochs 2  iteratons 3 }\n');
    const mainText = 'import "badlib.mt"\n';
    writeFileSync(main, mainText);
    const uri = client.open(main, mainText);
    await client.diagnosticsFor(uri, 1);
    await expect.poll(() => client.diagnostics.get(uriOf(lib))?.diagnostics.map((d) => d.code)).toEqual(['MT0203']);
    client.close(uri);
  });
});

describe('mtc lsp --stdio: navigation', () => {
  const md = resolve('experiments/multitalent_md.mt');
  const mdText = readFileSync(md, 'utf8');
  let uri: string;
  beforeAll(async () => {
    uri = client.open(md, mdText);
    await client.diagnosticsFor(uri, 1);
  });
  afterAll(() => client.close(uri));

  it('hover on an architecture shows its derived topology', async () => {
    const h = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(mdText, 'multitalent_unet', 3) });
    const text = (h.contents as { value: string }).value;
    expect(text).toContain('**architecture `multitalent_unet`** (unet)');
    expect(text).toContain('- patch [96, 192, 192] voxels at spacing [1.5, 1, 1] mm');
    expect(text).toContain('- 6 stages, bottleneck [6, 6, 6]');
    expect(text).toContain('- strides [1, 1, 1] [2, 2, 2] [2, 2, 2] [2, 2, 2] [2, 2, 2] [1, 2, 2]');
    expect(text).toContain('- features [30, 60, 120, 240, 320, 320]');
    expect(h.range).toEqual({ start: positionOf(mdText, 'multitalent_unet'), end: positionOf(mdText, 'multitalent_unet', 16) });
  });

  it('hover on a dataset shows its classes and its sampling share in the experiment', async () => {
    const h = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(mdText, 'msd_hepatic_vessel', 2) });
    const text = (h.contents as { value: string }).value;
    expect(text).toContain('**dataset `msd_hepatic_vessel`**: 2 classes, 303 cases');
    expect(text).toContain('sampling share in `md_unet` (inverse_sqrt, 13 datasets): **13.6 %**');
  });

  it('hover on a schedule, a field and a family', async () => {
    const s = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(mdText, 'multitalent_pretrain', 1) });
    expect((s.contents as { value: string }).value).toContain('**schedule `multitalent_pretrain`**: 2000 epochs × 250 iterations');
    const f = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(mdText, '  batch', 3) });
    expect((f.contents as { value: string }).value).toContain('**`batch`** — a field of a `experiment` block\n\nwhole number ≥ 1\n\ndefault: 2');
    const baselines = resolve('experiments/baselines.mt');
    const bText = readFileSync(baselines, 'utf8');
    const bUri = client.open(baselines, bText);
    const fam = await client.request<Hover>('textDocument/hover', { textDocument: { uri: bUri }, position: positionOf(bText, 'family baselines ', 8) });
    expect((fam.contents as { value: string }).value).toContain('**family `baselines`**: expands into **130** experiments');
    client.close(bUri);
  });

  it('hover on the experiment an experiment extends', async () => {
    const h = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(mdText, 'extends md_unet', 9) });
    const text = (h.contents as { value: string }).value;
    expect(text).toContain('**experiment `md_unet`**');
    expect(text).toContain('- architecture `multitalent_unet` (unet), patch [96, 192, 192] at [1.5, 1, 1] mm, 6 stages');
  });

  it('go to definition jumps into stdlib/', async () => {
    const loc = await client.request<Location>('textDocument/definition', { textDocument: { uri }, position: positionOf(mdText, 'multitalent_unet', 5) });
    expect(loc.uri).toBe(uriOf(resolve('stdlib/architectures.mt')));
    const arch = readFileSync('stdlib/architectures.mt', 'utf8');
    expect(loc.range.start).toEqual(positionOf(arch, 'multitalent_unet'));
    const imp = await client.request<Location>('textDocument/definition', { textDocument: { uri }, position: positionOf(mdText, 'std/schedules', 4) });
    expect(imp.uri).toBe(uriOf(resolve('stdlib/schedules.mt')));
  });

  it('finds references and lists document symbols', async () => {
    const refs = await client.request<Location[]>('textDocument/references', { textDocument: { uri }, position: positionOf(mdText, 'experiment md_unet', 13), context: { includeDeclaration: true } });
    // The declaration and the two experiments that extend it.
    expect(refs.filter((r) => r.uri === uri).map((r) => r.range.start.line).sort((a, b) => a - b)).toEqual([positionOf(mdText, 'experiment md_unet').line, positionOf(mdText, 'extends md_unet').line, positionOf(mdText, 'extends md_unet', 0, 1).line]);
    const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri } });
    expect(symbols.map((s) => [s.name, s.detail])).toEqual([['md_unet', 'experiment'], ['md_resenc', 'experiment'], ['md_swin', 'experiment']]);
  });
});

describe('mtc lsp --stdio: completion', () => {
  const path = join(dir, 'complete.mt');
  const head = 'import "std/architectures"\nimport "std/schedules"\nimport "std/datasets/msd"\n';

  async function complete(text: string, marker = '|'): Promise<CompletionItem[]> {
    const at = text.indexOf(marker);
    const clean = text.slice(0, at) + text.slice(at + marker.length);
    const uri = client.open(path, clean);
    try {
      const before = clean.slice(0, at);
      const position = { line: before.split('\n').length - 1, character: before.length - (before.lastIndexOf('\n') + 1) };
      const got = await client.request<CompletionItem[] | { items: CompletionItem[] }>('textDocument/completion', { textDocument: { uri }, position });
      return Array.isArray(got) ? got : got.items;
    } finally {
      client.close(uri);
    }
  }

  it('offers only the fields of the enclosing experiment block, without those already given', async () => {
    const items = await complete(`${head}experiment e {\n  datasets [msd_liver]\n  |\n}\n`);
    expect(labels(items)).toEqual(['allow_leakage', 'architecture', 'augmentation', 'batch', 'evaluation', 'exclude', 'folds', 'foreground', 'loss', 'patch', 'precision', 'pretrained', 'report', 'sampling', 'schedule', 'seed', 'spacing', 'targets']);
    expect(items.find((i) => i.label === 'batch')?.documentation).toMatchObject({ value: expect.stringContaining('whole number ≥ 1') });
  });

  it('offers declarations of the kind the field expects, and option words', async () => {
    expect(labels(await complete(`${head}experiment e {\n  architecture |\n}\n`))).toEqual(['multitalent_resenc', 'multitalent_swin', 'multitalent_unet']);
    expect(labels(await complete(`${head}experiment e {\n  architecture multi|\n}\n`))).toEqual(['multitalent_resenc', 'multitalent_swin', 'multitalent_unet']);
    expect(labels(await complete(`${head}experiment e {\n  datasets [msd_liver, |]\n}\n`))).toEqual(['msd_colon', 'msd_hepatic_vessel', 'msd_liver', 'msd_lung', 'msd_pancreas', 'msd_spleen']);
    expect(labels(await complete(`${head}experiment e {\n  datasets [msd_liver, |\n}\n`))).toContain('msd_spleen');
    expect(labels(await complete(`${head}experiment e {\n  loss |\n}\n`))).toEqual(['dice_ce', 'multitalent']);
    expect(labels(await complete(`${head}experiment e {\n  targets [msd_liver.|]\n}\n`))).toEqual(['liver', 'liver_tumour']);
    expect(labels(await complete('schedule s {\n  optimizer sgd(|)\n}\n'))).toEqual(['momentum', 'nesterov', 'weight_decay']);
    expect(labels(await complete('schedule s {\n  phase heads { epochs 10  | }\n}\n'))).toEqual(['lr', 'optimizer']);
    expect(labels(await complete('architecture a {\n  kind |\n}\n'))).toEqual(['resenc_unet', 'swin_unetr', 'unet']);
  });

  it('knows nested blocks: evaluation, transforms, phases, a dataset\'s classes', async () => {
    expect(labels(await complete(`${head}experiment e {\n  evaluation { tta true  | }\n}\n`))).toEqual(['metrics', 'step']);
    expect(labels(await complete(`${head}experiment e {\n  evaluation { metrics [|] }\n}\n`))).toEqual(['dice', 'hd95']);
    expect(labels(await complete('augmentation a {\n  mirror { p 0.5 }\n  |\n}\n'))).toEqual(['blur', 'brightness', 'contrast', 'elastic', 'gamma', 'gamma_inverted', 'low_resolution', 'noise', 'rotation', 'scaling']);
    expect(labels(await complete('augmentation a {\n  rotation { | }\n}\n'))).toEqual(['axes', 'p', 'range']);
    expect(labels(await complete('dataset d { root "r" classes { liver [1]  | } }\n'))).toEqual(['tags']);
    expect(labels(await complete('import "std/sampling"\nexperiment e {\n  sampling |\n}\n'))).toEqual(['inverse_sqrt', 'multitalent_sampling', 'proportional', 'proportional_sampling', 'uniform']);
  });

  it('offers declaration kinds at the top level and stdlib modules in an import', async () => {
    expect(labels(await complete('|'))).toEqual(['architecture', 'augmentation', 'classset', 'dataset', 'experiment', 'family', 'import', 'sampling', 'schedule']);
    expect(labels(await complete('import "std/|'))).toContain('std/datasets/msd');
    expect(await complete('experiment e { // a comment |\n}\n')).toEqual([]);
  });
});

describe('mtc lsp --stdio: formatting', () => {
  it("returns mtc fmt's layout as one whole-document edit", async () => {
    const path = join(dir, 'fmt.mt');
    const text = 'schedule   s {epochs 3\n      iterations    2 }\n';
    const uri = client.open(path, text);
    const edits = await client.request<TextEdit[]>('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    expect(edits).toEqual([{ range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } }, newText: formatSource(path, text).text }]);
    client.change(uri, 2, 'schedule s { epochs [ }\n');
    expect(await client.request('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })).toEqual([]);
    client.close(uri);
  });
});

describe('mtc lsp --stdio: hostile edits', () => {
  it('survives them and keeps answering every request', async () => {
    const path = join(dir, 'hostile.mt');
    const uri = client.open(path, BASE);
    const hostile = [
      `architecture a { patch ${'['.repeat(20_000)} }`,
      `experiment e { datasets ${'(['.repeat(30_000)} }`,
      '\u0000\u0001\u00ff binary \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd',
      `schedule s { epochs 1e999999  iterations ${'9'.repeat(5000)}  lr poly(-1e308, 1e-400) }`,
      `architecture a { patch [32, 32, 32] stages 100000000 }`,
      '/* never closed',
      '"'.repeat(10_001),
      '}}}}]]]]))))' .repeat(2000),
      `family f extends e { ${Array.from({ length: 30 }, (_, i) => `f${i} each(1, 2)`).join(' ')} }`,
      `${'x'.repeat(200_000)} { }`,
      BASE.slice(0, BASE.length / 2),
    ];
    let version = 1;
    for (const text of hostile) {
      version++;
      client.change(uri, version, text);
      const position = { line: 0, character: Math.min(20, text.length) };
      const requests = [
        client.request('textDocument/hover', { textDocument: { uri }, position }),
        client.request('textDocument/definition', { textDocument: { uri }, position }),
        client.request('textDocument/completion', { textDocument: { uri }, position }),
        client.request('textDocument/documentSymbol', { textDocument: { uri } }),
        client.request('textDocument/references', { textDocument: { uri }, position, context: { includeDeclaration: true } }),
        client.request('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } }),
        // Positions outside the document.
        client.request('textDocument/hover', { textDocument: { uri }, position: { line: 1e6, character: 1e6 } }),
      ];
      await Promise.all(requests);
      const ds = await client.diagnosticsFor(uri, version);
      expect(ds.length, JSON.stringify(text.slice(0, 60))).toBeGreaterThan(0);
      expect(client.running).toBe(true);
    }
    // Requests about documents it never saw.
    expect(await client.request('textDocument/hover', { textDocument: { uri: uriOf(join(dir, 'never-opened.mt')) }, position: { line: 0, character: 0 } })).toBeNull();
    // Still a working server.
    version++;
    client.change(uri, version, BASE);
    expect(await client.diagnosticsFor(uri, version)).toEqual([]);
    const h = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(BASE, 'architecture small', 14) });
    expect((h.contents as { value: string }).value).toContain('**architecture `small`** (unet)');
    expect(client.stderr.join('')).not.toMatch(/failed/);
    client.close(uri);
  });
});
