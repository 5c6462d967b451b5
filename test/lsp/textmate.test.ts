import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, parseRawGrammar, Registry, type IGrammar } from 'vscode-textmate';
import { mtLexer, parseSource } from '../../src/compiler/index.js';
import { DECLARATION_WORDS, FIELD_WORDS } from '../../src/compiler/grammar/tokens.js';
import { SCOPES, textMateGrammarJson } from '../../src/lsp/textmate.js';

const EXT = 'editors/vscode';
const GRAMMAR = join(EXT, 'syntaxes', 'mt.tmLanguage.json');

async function loadGrammar(): Promise<IGrammar> {
  const wasm = readFileSync(createRequire(import.meta.url).resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  const registry = new Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope) => (scope === 'source.mt' ? parseRawGrammar(readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null),
  });
  const g = await registry.loadGrammar('source.mt');
  if (g === null) throw new Error('test: the grammar did not load');
  return g;
}

/** Scopes per [line][character], from the TextMate grammar. */
function scopesOf(grammar: IGrammar, text: string): string[][][] {
  let stack = INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    const perChar: string[][] = [];
    for (const t of r.tokens) for (let c = t.startIndex; c < Math.max(t.endIndex, t.startIndex + 1); c++) perChar[c] = t.scopes;
    return perChar;
  });
}

const FILES = [
  ...(readdirSync('stdlib', { recursive: true }) as string[]).filter((f) => f.endsWith('.mt')).map((f) => join('stdlib', f)),
  ...readdirSync('experiments').filter((f) => f.endsWith('.mt')).map((f) => join('experiments', f)),
].sort();

/** The scope the compiler's own reading of a token says it must have. */
function expectedScope(image: string, tokenType: string, role: 'kind' | 'name' | 'parent' | null, next: string | undefined): string | null {
  if (tokenType === 'LineComment') return image.startsWith('#') ? SCOPES.hashComment : SCOPES.lineComment;
  if (tokenType === 'BlockComment') return SCOPES.blockComment;
  if (tokenType === 'TerminatedString') return SCOPES.string;
  if (tokenType === 'NumberLiteral') return SCOPES.number;
  if (role === 'kind') return SCOPES.declarationKind;
  if (role === 'name') return SCOPES.declarationName;
  if (role === 'parent') return SCOPES.parentName;
  if (image === 'import') return SCOPES.import;
  if (image === 'extends') return SCOPES.extends;
  if (image === 'true' || image === 'false') return SCOPES.boolean;
  if ((FIELD_WORDS as readonly string[]).includes(image)) return SCOPES.field;
  if ((DECLARATION_WORDS as readonly string[]).includes(image)) return SCOPES.declarationKind;
  if (tokenType === 'Identifier') return next === '(' ? SCOPES.call : SCOPES.name;
  const punct: Record<string, string> = { '{': SCOPES.block, '}': SCOPES.block, '[': SCOPES.brackets, ']': SCOPES.brackets, '(': SCOPES.parens, ')': SCOPES.parens, ',': SCOPES.comma, ':': SCOPES.colon, '.': SCOPES.dot };
  return punct[image] ?? null;
}

describe('the TextMate grammar (editors/vscode)', () => {
  it('is the one built from the Chevrotain tokens (run `npm run build && node scripts/textmate-grammar.mjs` when this fails)', () => {
    expect(readFileSync(GRAMMAR, 'utf8')).toBe(textMateGrammarJson());
  });

  it('gives every token of stdlib/ and experiments/ the scope of what the lexer and parser read there', async () => {
    const grammar = await loadGrammar();
    let checked = 0;
    const seen = new Set<string>();
    for (const file of FILES) {
      const text = readFileSync(file, 'utf8');
      const scopes = scopesOf(grammar, text);
      const ast = parseSource(file, text).ast;
      const roles = new Map<number, 'kind' | 'name' | 'parent'>();
      for (const d of ast.declarations) {
        roles.set(d.kind.span.start.offset, 'kind');
        if (d.name) roles.set(d.name.span.start.offset, 'name');
        if (d.parent) roles.set(d.parent.span.start.offset, 'parent');
      }
      const lexed = mtLexer.tokenize(text);
      const tokens = [...lexed.tokens, ...(lexed.groups.comments ?? [])].sort((a, b) => a.startOffset - b.startOffset);
      tokens.forEach((t, i) => {
        const next = lexed.tokens.find((x) => x.startOffset > t.startOffset)?.image;
        const want = expectedScope(t.image, t.tokenType.name, roles.get(t.startOffset) ?? null, next);
        if (want === null) return;
        // Every character of the token (the first line of a block comment) carries the scope.
        const first = t.image.split('\n')[0];
        for (let c = 0; c < first.length; c++) {
          const got = scopes[t.startLine! - 1][t.startColumn! - 1 + c] ?? [];
          expect(got, `${file}:${t.startLine}:${t.startColumn! + c} '${t.image.slice(0, 30)}' (token ${i})`).toContain(want);
        }
        seen.add(want);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(2000);
    // Keywords, names, numbers, strings and comments of every kind occur in the shipped files.
    for (const s of [SCOPES.lineComment, SCOPES.string, SCOPES.number, SCOPES.boolean, SCOPES.import, SCOPES.extends, SCOPES.declarationKind, SCOPES.declarationName, SCOPES.parentName, SCOPES.field, SCOPES.call, SCOPES.name]) {
      expect(seen, s).toContain(s);
    }
  });

  it('scopes what the shipped files lack: block and # comments, unterminated strings, numbers inside names', async () => {
    const grammar = await loadGrammar();
    const text = '/* a\n   block */ # hash\nroot "open\nx Dataset001 -1.5e3 .5\n';
    const s = scopesOf(grammar, text);
    expect(s[0][0]).toContain(SCOPES.blockComment);
    expect(s[1][5]).toContain(SCOPES.blockComment);
    expect(s[1][12]).toContain(SCOPES.hashComment);
    expect(s[2][6]).toContain(SCOPES.string);
    expect(s[3][2]).toContain(SCOPES.name);
    expect(s[3][9]).toContain(SCOPES.name);
    expect(s[3][14]).toContain(SCOPES.number);
    expect(s[3][21]).toContain(SCOPES.number);
  });
});

describe('the VS Code extension (editors/vscode)', () => {
  const pkg = JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8'));

  it('declares the language, its configuration, the grammar and a client that starts mtc lsp', () => {
    expect(pkg.engines.vscode).toMatch(/^\^1\./);
    expect(pkg.dependencies['vscode-languageclient']).toBeDefined();
    const lang = pkg.contributes.languages[0];
    expect([lang.id, lang.extensions]).toEqual(['mt', ['.mt']]);
    expect(existsSync(join(EXT, lang.configuration))).toBe(true);
    const conf = JSON.parse(readFileSync(join(EXT, lang.configuration), 'utf8'));
    expect(conf.comments).toEqual({ lineComment: '//', blockComment: ['/*', '*/'] });
    expect(pkg.contributes.grammars[0]).toEqual({ language: 'mt', scopeName: 'source.mt', path: './syntaxes/mt.tmLanguage.json' });
    expect(pkg.contributes.configuration.properties['multitalent.server.args'].default).toEqual(['lsp', '--stdio']);
    expect(existsSync(join(EXT, pkg.main))).toBe(true);
    // The client is plain CommonJS that VS Code loads as is.
    execFileSync(process.execPath, ['--check', join(EXT, pkg.main)]);
    expect(readFileSync(join(EXT, pkg.main), 'utf8')).toContain("require('vscode-languageclient/node')");
  });

  it('keeps the editor out of the root package', () => {
    const root = JSON.parse(readFileSync('package.json', 'utf8'));
    const all = { ...root.dependencies, ...root.devDependencies, ...root.optionalDependencies, ...root.peerDependencies };
    expect(Object.keys(all).filter((d) => d === 'vscode' || d === '@types/vscode' || d === 'vscode-languageclient')).toEqual([]);
    expect(root.engines.vscode).toBeUndefined();
  });
});
