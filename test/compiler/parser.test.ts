import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/compiler/index.js';
import { BASE } from './helpers.js';

describe('parser', () => {
  it('parses a valid file without diagnostics', () => {
    const { ast, diagnostics } = parseSource('base.mt', BASE);
    expect(diagnostics).toEqual([]);
    expect(ast.declarations.map((d) => `${d.kind.text} ${d.name?.text}`)).toEqual([
      'dataset liver', 'dataset spleen', 'architecture small', 'schedule short', 'experiment demo',
    ]);
    const liver = ast.declarations[0];
    expect(liver.body?.closed).toBe(true);
    expect(liver.body?.entries.map((e) => e.key.text)).toEqual(['root', 'cases', 'classes']);
    const classes = liver.body!.entries[2].block!;
    expect(classes.entries.map((e) => e.key.text)).toEqual(['liver', 'liver_tumour', 'tags']);
  });

  it('parses the quickstart experiment file cleanly', () => {
    const text = readFileSync(new URL('../../experiments/quickstart.mt', import.meta.url), 'utf8');
    const { ast, diagnostics } = parseSource('experiments/quickstart.mt', text);
    expect(diagnostics).toEqual([]);
    expect(ast.imports.map((i) => i.spec)).toEqual(['std/augmentation']);
    expect(ast.declarations.filter((d) => d.kind.text === 'experiment').length).toBe(2);
  });

  it('reads calls with positional and named arguments, lists with trailing commas, booleans', () => {
    const { ast, diagnostics } = parseSource('x.mt', 'schedule s { optimizer sgd(momentum: 0.9, nesterov: false,) lr poly(0.01, 0.9) }\nexperiment e { datasets [a, b,] }');
    expect(diagnostics).toEqual([]);
    const [opt, lr] = ast.declarations[0].body!.entries;
    expect(opt.value).toMatchObject({ kind: 'call', callee: { text: 'sgd' } });
    if (opt.value?.kind !== 'call') throw new Error('expected a call');
    expect(opt.value.args.map((a) => [a.name?.text, a.value?.kind])).toEqual([['momentum', 'number'], ['nesterov', 'bool']]);
    if (lr.value?.kind !== 'call') throw new Error('expected a call');
    expect(lr.value.args.map((a) => a.name)).toEqual([null, null]);
    const ds = ast.declarations[1].body!.entries[0].value;
    expect(ds?.kind === 'list' && ds.items.map((i) => (i.kind === 'name' ? i.name : '?'))).toEqual(['a', 'b']);
  });

  it('reads several fields on one line and a phase with its block', () => {
    const { ast, diagnostics } = parseSource('x.mt', 'dataset d { synthetic quickstart seed 2026 classes { a [1] } }\nschedule s { phase heads { epochs 2 lr linear(0, 0.01) } }');
    expect(diagnostics).toEqual([]);
    expect(ast.declarations[0].body!.entries.map((e) => e.key.text)).toEqual(['synthetic', 'seed', 'classes']);
    const phase = ast.declarations[1].body!.entries[0];
    expect(phase.key.text).toBe('phase');
    expect(phase.value).toMatchObject({ kind: 'name', name: 'heads' });
    expect(phase.block?.entries.map((e) => e.key.text)).toEqual(['epochs', 'lr']);
  });

  it('recovers from several syntax errors and keeps parsing later declarations', () => {
    const text = [
      'dataset a {',              // 1: never closed
      '  root "x"',
      'architecture b {',         // 3
      '  patch [32, 32 32]',      // 4: missing comma
      '}',
      '42',                       // 6: stray token at top level
      'schedule c { epochs 3 }',  // 7
      'experiment e { datasets [a] }',
    ].join('\n');
    const { ast, diagnostics } = parseSource('x.mt', text);
    expect(ast.declarations.map((d) => d.name?.text)).toEqual(['a', 'b', 'c', 'e']);
    const where = diagnostics.map((d) => `${d.code}@${d.span.start.line}`);
    expect(where).toContain('MT0104@3');
    expect(where.some((w) => w.endsWith('@4'))).toBe(true);
    expect(where).toContain('MT0103@6');
    expect(diagnostics.length).toBeGreaterThanOrEqual(3);
    expect(diagnostics.find((d) => d.code === 'MT0104')?.message).toBe(
      "expected '}' to close dataset 'a' opened at 1:11, found keyword 'architecture'",
    );
  });

  it('names the innermost unclosed block, and the end of the file', () => {
    const { diagnostics } = parseSource('x.mt', 'dataset a {\n  classes {\n    x [1]\n');
    const d = diagnostics.filter((x) => x.code === 'MT0104');
    expect(d[0].message).toBe("expected '}' to close the 'classes' block opened at 2:11, found the end of the file");
    expect(d[0].span.start.line).toBe(3);
  });

  it('parses a keyword used as a declaration name (the checker reports it) without cascading errors', () => {
    const { ast, diagnostics } = parseSource('x.mt', 'dataset patch { root "x" }');
    expect(diagnostics).toEqual([]);
    expect(ast.declarations[0].name?.text).toBe('patch');
  });

  it('reports a missing value inside a list', () => {
    const { diagnostics } = parseSource('x.mt', 'architecture a { patch [32, , 32] }');
    expect(diagnostics.map((d) => [d.code, d.span.start.column])).toContainEqual(['MT0106', 29]);
    expect(diagnostics[0].message).toBe("expected a value before this ',' in the list");
  });

  it('never throws on empty, binary or unterminated input', () => {
    expect(parseSource('x.mt', '').diagnostics.map((d) => d.code)).toEqual(['MT0005']);
    expect(parseSource('x.mt', 'abc\u0000def').diagnostics.map((d) => d.code)).toEqual(['MT0004']);
    expect(parseSource('x.mt', 'dataset a { root "x').diagnostics.map((d) => d.code)).toContain('MT0102');
    expect(parseSource('x.mt', '/* never closed').diagnostics.map((d) => d.code)).toContain('MT0102');
  });
});
