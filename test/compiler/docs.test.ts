import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { BLOCK_FIELDS, type BlockKind } from '../../src/compiler/check/fields.js';
import { FIELD_DOCS, fieldRow } from '../../src/compiler/field-docs.js';
import { checkProgram, compileProgram, loadProgramWith, nodeHost, parseSource, type LoaderHost } from '../../src/compiler/index.js';
import { captureIO } from '../cli/helpers.js';

const DOC = readFileSync('docs/language.md', 'utf8');

/** Fenced code blocks with the line they start on. */
function codeBlocks(text: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('```')) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && !lines[j].startsWith('```')) j++;
    out.push({ line: start + 1, code: lines.slice(start, j).join('\n') });
    i = j;
  }
  return out;
}

/** Every field table: its block kind (from the section heading, or named in its first header cell) and rows. */
function fieldTables(text: string): Array<{ kind: string; rows: string[] }> {
  const out: Array<{ kind: string; rows: string[] }> = [];
  let section = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const h = /^## `(\w+)`/.exec(lines[i]);
    if (h) section = h[1];
    const head = /^\| (?:`(\w+)` |(\w+) )?field \| value \| default/.exec(lines[i]);
    if (!head) continue;
    const rows: string[] = [];
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++) rows.push(lines[j]);
    out.push({ kind: head[1] ?? head[2] ?? section, rows });
  }
  return out;
}

describe('docs/language.md field tables', () => {
  const tables = fieldTables(DOC);

  it('has one table for every kind of block, listing exactly its fields', () => {
    expect(tables.map((t) => t.kind).sort()).toEqual(Object.keys(BLOCK_FIELDS).sort());
    for (const t of tables) {
      const names = t.rows.map((r) => /^\| `(\w+)`/.exec(r)?.[1]);
      expect([...names].sort(), t.kind).toEqual([...BLOCK_FIELDS[t.kind as BlockKind]].sort());
    }
  });

  it('says what the editor hover says (src/compiler/field-docs.ts)', () => {
    for (const t of tables) {
      const docs = FIELD_DOCS[t.kind as BlockKind] as Record<string, { value: string; default: string }>;
      for (const row of t.rows) {
        const name = /^\| `(\w+)`/.exec(row)![1];
        expect(row, `${t.kind}.${name}`).toBe(fieldRow(name, docs[name]));
      }
    }
  });
});

// The examples are checked in the company of everything the stdlib and experiments/ declare (so
// that `datasets [msd_liver, kits19]` resolves), minus what the example itself declares: an example
// may show its own version of a stdlib declaration.
const PRELUDE_FILES = [
  ...(readdirSync('stdlib', { recursive: true }) as string[]).filter((f) => f.endsWith('.mt')).map((f) => join('stdlib', f)),
  ...readdirSync('experiments').filter((f) => f.endsWith('.mt')).map((f) => join('experiments', f)),
].sort();
const PRELUDE = PRELUDE_FILES.flatMap((f) => {
  const text = readFileSync(f, 'utf8');
  return parseSource(f, text).ast.declarations.map((d) => ({ name: d.name?.text ?? '', text: text.slice(d.span.start.offset, d.span.end.offset) }));
});

/** The prelude (minus what the example declares), then the example. */
function withPrelude(example: string, dropped: ReadonlySet<string>): { text: string; spans: Array<{ name: string; from: number; to: number }> } {
  const own = new Set(parseSource('example.mt', example).ast.declarations.map((d) => d.name?.text));
  const spans: Array<{ name: string; from: number; to: number }> = [];
  let text = '';
  for (const d of PRELUDE) {
    if (own.has(d.name) || dropped.has(d.name)) continue;
    spans.push({ name: d.name, from: text.length, to: text.length + d.text.length });
    text += `${d.text}\n`;
  }
  return { text: `${text}\n${example}\n`, spans };
}

/** The example as a file in experiments/ (relative imports resolve there); everything else from disk. */
function hostWith(path: string, text: string): LoaderHost {
  return { ...nodeHost, stdlibDir: nodeHost.stdlibDir, readFile: async (p) => (p === path ? { ok: true, text } : nodeHost.readFile(p)), stdModules: () => nodeHost.stdModules() };
}

const isCommand = (code: string) => code.split('\n').every((l) => l.trim() === '' || l.startsWith('mtc '));
const isDiagnosticOutput = (code: string) => /^\S+:\d+:\d+: (error|warning)\[MT\d{4}\]/.test(code);

describe('docs/language.md examples', () => {
  const blocks = codeBlocks(DOC);

  it('has examples of every kind', () => {
    expect(blocks.filter((b) => !isCommand(b.code) && !isDiagnosticOutput(b.code)).length).toBeGreaterThanOrEqual(9);
  });

  for (const b of blocks) {
    if (isDiagnosticOutput(b.code)) continue;
    if (isCommand(b.code)) {
      it(`the command at line ${b.line} runs`, async () => {
        for (const line of b.code.split('\n').filter((l) => l.startsWith('mtc '))) {
          const argv = (line.slice(4).match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((a) => a.replace(/^(["'])(.*)\1$/, '$2'));
          const io = captureIO();
          expect(await main(argv, io), `${line}\n${io.stderr.join('\n')}`).toBe(0);
        }
      });
      continue;
    }
    it(`the example at line ${b.line} checks and compiles`, async () => {
      const hasImports = parseSource('example.mt', b.code).ast.imports.length > 0;
      const path = resolve('experiments/__docs_example__.mt');
      // Prelude declarations that only break because the example replaced one they build on
      // (md_unet_without_btcv extends the example's md_unet, which has no btcv) are left out.
      const dropped = new Set<string>();
      let program;
      for (;;) {
        const built = hasImports ? { text: b.code, spans: [] } : withPrelude(b.code, dropped);
        program = await loadProgramWith(path, hostWith(path, built.text));
        const errors = checkProgram(program).diagnostics.filter((d) => d.severity === 'error');
        const culprits = built.spans.filter((s) => errors.some((d) => d.span.file === program!.entry && d.span.start.offset >= s.from && d.span.start.offset < s.to));
        if (culprits.length === 0) {
          expect(errors.map((d) => `${d.code} ${d.message}`)).toEqual([]);
          break;
        }
        for (const c of culprits) dropped.add(c.name);
      }
      // Every experiment the example declares lowers to a valid graph.
      const experiments = parseSource('example.mt', b.code).ast.declarations.filter((d) => d.kind.text === 'experiment').map((d) => d.name!.text);
      for (const e of experiments) {
        const { graph, diagnostics } = compileProgram(program, { experiment: e });
        expect(diagnostics.filter((d) => d.severity === 'error'), e).toEqual([]);
        expect(graph, e).not.toBeNull();
      }
    });
  }
});
