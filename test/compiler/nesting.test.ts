import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { formatSource, parseSource } from '../../src/compiler/index.js';
import { MAX_NESTING } from '../../src/compiler/grammar/nesting.js';
import { MAX_STAGES } from '../../src/compiler/check/architectures.js';
import { MAX_FAMILY_EXPANSION } from '../../src/compiler/check/inherit.js';
import { captureIO } from '../cli/helpers.js';
import { BASE, codes, compileText, diagnosticsOf } from './helpers.js';

const deep = (open: string, n: number, close = '') => open.repeat(n) + close.repeat(n);

describe('the nesting limit (MT0107)', () => {
  it('20,000 nested [ give a located error from mtc check, not a stack overflow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-deep-'));
    const file = join(dir, 'deep.mt');
    writeFileSync(file, `architecture a { patch ${'['.repeat(20_000)} }\n`);
    const io = captureIO();
    const code = await main(['check', file], io);
    const err = io.stderr.join('\n');
    expect(err).not.toContain('internal error');
    expect(code).toBe(1);
    // The block's '{' is level 1, so the 64th '[' (column 24 + 63) is the first one too deep.
    expect(err).toContain(`${file}:1:${24 + MAX_NESTING - 1}: error[MT0107]: '[' opens a level of nesting deeper than ${MAX_NESTING}; everything inside it is skipped`);
  });

  it(`accepts ${MAX_NESTING} levels and reports the ${MAX_NESTING + 1}th once`, () => {
    const ok = parseSource('f.mt', `architecture a { patch ${deep('[', MAX_NESTING - 1, ']')} }`);
    expect(codes(ok.diagnostics)).not.toContain('MT0107');
    const bad = parseSource('f.mt', `architecture a { patch ${deep('[', MAX_NESTING, ']')} }`);
    expect(codes(bad.diagnostics)).toEqual(['MT0107']);
    expect(bad.diagnostics[0].span.start.column).toBe(24 + MAX_NESTING - 1);
  });

  it('counts blocks, lists and calls together', () => {
    for (const text of [
      `architecture a { ${'x { '.repeat(10_000)}${'} '.repeat(10_000)} }`,
      `schedule s { lr ${deep('f(', 10_000, ')')} }`,
      `schedule s { lr ${'f([{'.repeat(5_000)} }`,
    ]) {
      const { diagnostics } = parseSource('f.mt', text);
      expect(codes(diagnostics).filter((c) => c === 'MT0107')).toEqual(['MT0107']);
    }
  });

  it('checks the rest of the file after a region nested too deep', async () => {
    const text = `architecture a { patch ${'['.repeat(5000)} }\narchitecture b { patch [32, 32, 32] featurs [8, 16] }\n`;
    const ds = await diagnosticsOf(text);
    expect(codes(ds)).toContain('MT0107');
    expect(ds.find((d) => d.code === 'MT0203')?.message).toBe("unknown field 'featurs' in architecture 'b'");
  });

  it('every error of a deep, balanced file is located in it and formatting refuses it cleanly', () => {
    const text = `dataset d { root "x" classes { c ${deep('[', 3000, ']')} } }\n`;
    const { diagnostics } = parseSource('f.mt', text);
    for (const d of diagnostics) expect(d.span.end.offset).toBeLessThanOrEqual(text.length);
    expect(formatSource('f.mt', text).text).toBeNull();
    // At the limit the formatter works (its own passes are loops, not recursion).
    const atLimit = `architecture a { patch ${deep('[', MAX_NESTING - 1, ']')} }\n`;
    expect(formatSource('f.mt', atLimit).text).toBe(atLimit);
  });
});

describe('no recursion on the length of declaration chains', () => {
  it('20,000 experiments extending each other', async () => {
    const lines = [BASE, 'experiment e0 extends demo { }'];
    for (let i = 1; i < 20_000; i++) lines.push(`experiment e${i} extends e${i - 1} { }`);
    const { graph, diagnostics } = await compileText(lines.join('\n'), 'e19999');
    expect(diagnostics).toEqual([]);
    expect(graph).not.toBeNull();
  });

  it('a 20,000-long inheritance loop is reported once', async () => {
    const n = 20_000;
    const lines = [BASE];
    for (let i = 0; i < n; i++) lines.push(`experiment e${i} extends e${(i + 1) % n} { }`);
    const ds = await diagnosticsOf(lines.join('\n'));
    expect(codes(ds).filter((c) => c === 'MT0407')).toEqual(['MT0407']);
  });

  it('20,000 class sets including each other in a chain, and in a loop', async () => {
    const chain = [BASE, 'classset c0 { classes [liver] }'];
    for (let i = 1; i < 20_000; i++) chain.push(`classset c${i} { classes [c${i - 1}, spleen] }`);
    chain.push('experiment r extends demo { report [c19999] }');
    expect(await diagnosticsOf(chain.join('\n'))).toEqual([]);
    const loop = [BASE];
    for (let i = 0; i < 20_000; i++) loop.push(`classset c${i} { classes [c${(i + 1) % 20_000}] }`);
    loop.push('experiment r extends demo { report [c0] }');
    const ds = await diagnosticsOf(loop.join('\n'));
    expect(codes(ds).filter((c) => c === 'MT0407')).toEqual(['MT0407']);
  });
});

describe('huge numbers and sizes', () => {
  it(`a family that would expand into more than ${MAX_FAMILY_EXPANSION} experiments is an error, not a hang`, async () => {
    const batches = Array.from({ length: 10_000 }, (_, i) => i + 1).join(', ');
    const text = `${BASE}\nfamily f extends demo { folds each(0, 1)  seed each(0, 1)  batch each(${batches}) }\n`;
    const ds = await diagnosticsOf(text);
    expect(ds.map((d) => d.message)).toContain(`family 'f' would expand into 40000 experiments; at most ${MAX_FAMILY_EXPANSION} are allowed`);
  });

  it(`'stages' is bounded (at most ${MAX_STAGES})`, async () => {
    const ds = await diagnosticsOf(BASE.replace('features [8, 16, 32, 64]', 'stages 100000000'));
    expect(ds.map((d) => [d.code, d.message])).toEqual([['MT0303', `architecture 'small' has 100000000 stages ('stages'); at most ${MAX_STAGES} are supported`]]);
  });

  it('numbers beyond double range, and names of a million characters', async () => {
    const ds = await diagnosticsOf(BASE.replace('epochs     10', 'epochs 1e999999').replace('architecture small', `architecture ${'s'.repeat(1_000_000)}x`));
    expect(codes(ds)).toEqual(['MT0301', 'MT0201']);
  });
});
