import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/compiler/index.js';

const TEXT = 'dataset liver {\n  root "D001"\n  classes { liver [1, 2] }\n}\n';

describe('AST source locations', () => {
  const { ast } = parseSource('f.mt', TEXT);
  const decl = ast.declarations[0];

  it('locates declarations and names (1-based line/column, 0-based offset, exclusive end)', () => {
    expect(decl.kind.span).toEqual({ file: 'f.mt', start: { line: 1, column: 1, offset: 0 }, end: { line: 1, column: 8, offset: 7 } });
    expect(decl.name?.span).toEqual({ file: 'f.mt', start: { line: 1, column: 9, offset: 8 }, end: { line: 1, column: 14, offset: 13 } });
    expect(decl.span.start.offset).toBe(0);
    expect(decl.span.end).toEqual({ line: 4, column: 2, offset: TEXT.lastIndexOf('}') + 1 });
  });

  it('locates entries and their values', () => {
    const root = decl.body!.entries[0];
    expect(root.key.span.start).toEqual({ line: 2, column: 3, offset: 18 });
    expect(root.value).toMatchObject({ kind: 'string', value: 'D001' });
    expect(root.value!.span.start).toEqual({ line: 2, column: 8, offset: 23 });
    expect(root.value!.span.end).toEqual({ line: 2, column: 14, offset: 29 });
    expect(TEXT.slice(root.value!.span.start.offset, root.value!.span.end.offset)).toBe('"D001"');
  });

  it('locates list items', () => {
    const cls = decl.body!.entries[1].block!.entries[0];
    const v = cls.value;
    if (v?.kind !== 'list') throw new Error('expected a list');
    expect(TEXT.slice(v.span.start.offset, v.span.end.offset)).toBe('[1, 2]');
    expect(v.items.map((i) => [i.span.start.line, i.span.start.column])).toEqual([[3, 20], [3, 23]]);
  });
});
