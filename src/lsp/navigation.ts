/** Go to definition, find references and document symbols, from the program index. */
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import type { Ast, Span } from '../compiler/index.js';
import type { Occurrence } from './index-ast.js';
import type { Analysis } from './workspace.js';

/** A place in a file of an analysis's program (display path and span). */
export interface Place {
  file: string;
  span: Span;
}

/** What an occurrence names: a declaration, a class of a dataset, or a file. */
export type Target = { declaration: string } | { dataset: string; member: string } | { file: string };

export function targetOf(o: Occurrence): Target | null {
  switch (o.role) {
    case 'declaration':
      return { declaration: o.name };
    case 'reference':
      return o.member === null ? { declaration: o.name } : { dataset: o.name, member: o.member };
    case 'class':
      return { dataset: o.dataset, member: o.name };
    case 'import':
      return o.target === null ? null : { file: o.target };
    default:
      return null;
  }
}

/** Where a target is declared in an analysis's program. */
export function definitionOf(a: Analysis, t: Target): Place | null {
  if ('file' in t) {
    const f = a.program.files.get(t.file);
    return f === undefined ? null : { file: f.path, span: { file: f.path, start: { line: 1, column: 1, offset: 0 }, end: { line: 1, column: 1, offset: 0 } } };
  }
  const name = 'declaration' in t ? t.declaration : t.dataset;
  const sym = a.checked.symbols.get(name);
  if (sym === undefined || sym.decl.name === null) return null;
  if ('declaration' in t) return { file: sym.file, span: sym.decl.name.span };
  const cls = (a.index.get(sym.file)?.occurrences ?? []).find((o) => o.role === 'class' && o.dataset === t.dataset && o.name === t.member);
  return cls === undefined ? { file: sym.file, span: sym.decl.name.span } : { file: sym.file, span: cls.span };
}

function sameTarget(a: Target, b: Target): boolean {
  if ('file' in a || 'file' in b) return 'file' in a && 'file' in b && a.file === b.file;
  if ('declaration' in a) return 'declaration' in b && a.declaration === b.declaration;
  return 'dataset' in b && a.dataset === b.dataset && a.member === b.member;
}

/** Every occurrence of a target in the analysis's program (the declaration itself when asked). */
export function referencesOf(a: Analysis, t: Target, includeDeclaration: boolean): Place[] {
  const out: Place[] = [];
  for (const [file, index] of a.index) {
    for (const o of index.occurrences) {
      if (o.role === 'import') continue;
      const ot = targetOf(o);
      if (ot === null || !sameTarget(ot, t)) continue;
      const isDecl = o.role === 'declaration' || o.role === 'class';
      if (isDecl && !includeDeclaration) continue;
      // A declaration that lost to an earlier one of the same name (MT0202) is not this target.
      if (o.role === 'declaration' && a.checked.symbols.get(o.name)?.decl.name?.span.start.offset !== o.span.start.offset) continue;
      out.push({ file, span: o.span });
    }
  }
  return out;
}

const SYMBOL_KINDS: Record<string, SymbolKind> = {
  dataset: SymbolKind.Class,
  classset: SymbolKind.Enum,
  architecture: SymbolKind.Struct,
  schedule: SymbolKind.Event,
  sampling: SymbolKind.Operator,
  augmentation: SymbolKind.Interface,
  experiment: SymbolKind.Module,
  family: SymbolKind.Package,
};

/** The outline of a file: its declarations, a dataset's classes, a schedule's phases. */
export function documentSymbols(ast: Ast.FileAst, range: (s: Span) => DocumentSymbol['range']): DocumentSymbol[] {
  const out: DocumentSymbol[] = [];
  for (const d of ast.declarations) {
    const sel = d.name?.span ?? d.kind.span;
    const children: DocumentSymbol[] = [];
    for (const e of d.body?.entries ?? []) {
      if (d.kind.text === 'dataset' && e.key.text === 'classes') {
        for (const c of e.block?.entries ?? []) {
          if (c.key.text !== 'tags') children.push({ name: c.key.text, kind: SymbolKind.EnumMember, range: range(c.span), selectionRange: range(c.key.span) });
        }
      } else if (d.kind.text === 'schedule' && e.key.text === 'phase') {
        children.push({ name: `phase ${e.value?.kind === 'name' ? e.value.name : ''}`.trim(), kind: SymbolKind.Field, range: range(e.span), selectionRange: range(e.key.span) });
      }
    }
    out.push({ name: d.name?.text ?? `(unnamed ${d.kind.text})`, detail: d.kind.text, kind: SYMBOL_KINDS[d.kind.text] ?? SymbolKind.Object, range: range(d.span), selectionRange: range(sel), children });
  }
  return out;
}
