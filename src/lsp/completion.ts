/**
 * Completion: where the cursor is (top level, a field name in a block of some kind, the value of a
 * field, an import path), read from the compiler's AST of the document and its tokens, and what
 * may go there (the checker's field lists, declarations of the kind the field expects, option words).
 */
import type { IToken } from 'chevrotain';
import { CompletionItemKind, InsertTextFormat, MarkupKind, type CompletionItem } from 'vscode-languageserver';
import {
  BLOCK_FIELDS, DECLARATION_WORDS, FIELD_VALUES, declarationBlockKind, mtLexer, nestedBlockKind, type Ast, type BlockKind, type CheckedProgram, type DeclKind, type FieldValue,
} from '../compiler/index.js';
import { declarationFacts, fieldFacts } from './facts.js';
import type { IndexBlock } from './index-ast.js';

export type CursorContext =
  | { at: 'top'; prefix: string }
  | { at: 'key'; block: IndexBlock; present: Set<string>; prefix: string }
  | { at: 'value'; block: IndexBlock; key: string; member: string | null; call: string | null; afterOpen: boolean; prefix: string }
  | { at: 'import'; prefix: string }
  | { at: 'none' };

const REPEATABLE = new Set(['phase', 'exclude']);
const isWord = (t: IToken) => /^[A-Za-z_]\w*$/.test(t.image);

function childKind(kind: IndexBlock, key: string): IndexBlock {
  if (kind === 'dataset' && (key === 'classes' || key === 'labels')) return key;
  if (kind === null || kind === 'classes' || kind === 'labels') return null;
  return nestedBlockKind(kind, key);
}

/** Where the cursor at `offset` is, in a document whose AST is `ast`. */
export function cursorContext(ast: Ast.FileAst, text: string, offset: number): CursorContext {
  const lexed = mtLexer.tokenize(text.slice(0, offset));
  const lastComment = (lexed.groups.comments ?? []).at(-1);
  const tokens = lexed.tokens;
  const last = tokens.at(-1);
  if (lastComment !== undefined && (last === undefined || lastComment.startOffset > last.startOffset)) {
    const end = lastComment.startOffset + lastComment.image.length;
    const closed = lastComment.image.startsWith('/*') && lastComment.image.endsWith('*/') && lastComment.image.length >= 4;
    if (end >= offset && !closed) return { at: 'none' };
  }
  let wordStart = offset;
  let prefix = '';
  let before = tokens;
  if (last !== undefined && last.startOffset + last.image.length === offset) {
    if (last.image.startsWith('"')) {
      const unterminated = last.image.length === 1 || !last.image.endsWith('"') || last.image.endsWith('\\"');
      if (!unterminated) return { at: 'none' };
      return tokens.at(-2)?.image === 'import' ? { at: 'import', prefix: last.image.slice(1) } : { at: 'none' };
    }
    if (isWord(last)) {
      wordStart = last.startOffset;
      prefix = last.image;
      before = tokens.slice(0, -1);
    }
  }
  const prev = before.at(-1);
  const member = prev?.image === '.' && before.at(-2) !== undefined && isWord(before.at(-2)!) ? before.at(-2)!.image : null;

  const decl = [...ast.declarations].reverse().find((d) => d.span.start.offset < wordStart);
  if (decl === undefined || decl.body === null) return decl === undefined || prev === undefined || prev.image === '}' ? { at: 'top', prefix } : { at: 'none' };
  const body = decl.body;
  if (wordStart <= body.span.start.offset) return { at: 'none' };
  if (body.closed && wordStart >= body.span.end.offset) return { at: 'top', prefix };

  let block: Ast.Block = body;
  let kind: IndexBlock = declarationBlockKind(decl.kind.text);
  for (;;) {
    const entry = [...block.entries].reverse().find((e) => e.key.span.start.offset < wordStart);
    const present = new Set(block.entries.filter((e) => e.key.span.start.offset !== wordStart && !REPEATABLE.has(e.key.text)).map((e) => e.key.text));
    if (entry === undefined) return { at: 'key', block: kind, present, prefix };
    if (entry.block !== null && entry.block.span.start.offset < wordStart && (!entry.block.closed || wordStart < entry.block.span.end.offset)) {
      kind = childKind(kind, entry.key.text);
      block = entry.block;
      continue;
    }
    const valueAt = (afterOpen: boolean): CursorContext => ({ at: 'value', block: kind, key: entry.key.text, member, call: openCall(before, entry.key.span.start.offset), afterOpen, prefix });
    const opener = prev !== undefined && ['[', '(', ',', ':', '.'].includes(prev.image);
    if (entry.value !== null) {
      if (wordStart <= entry.value.span.end.offset && (wordStart > entry.value.span.start.offset || entry.value.span.start.offset === wordStart)) return valueAt(opener);
      // A list or call left open: `datasets [a, |`.
      if (opener && prev!.startOffset >= entry.key.span.start.offset && openCall(before, entry.key.span.start.offset, true) !== null) return valueAt(true);
      return { at: 'key', block: kind, present, prefix };
    }
    if (entry.block === null && prev !== undefined && prev.startOffset === entry.key.span.start.offset) {
      // `architecture |`: a value on the same line as its key.
      const sameLine = !text.slice(entry.key.span.end.offset, wordStart).includes('\n');
      if (sameLine) return valueAt(false);
    }
    if (opener && prev!.startOffset > entry.key.span.start.offset) return valueAt(true);
    return { at: 'key', block: kind, present, prefix };
  }
}

/**
 * The call (or, with `anyBracket`, any bracket) still open between `from` and the cursor: the
 * callee of the innermost open `(`, '[' for an open list; null when none is open.
 */
function openCall(tokens: IToken[], from: number, anyBracket = false): string | null {
  const stack: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.startOffset < from) continue;
    if (t.image === '(') stack.push(tokens[i - 1] !== undefined && isWord(tokens[i - 1]) ? tokens[i - 1].image : '(');
    else if (t.image === '[') stack.push('[');
    else if (t.image === ')' || t.image === ']') stack.pop();
  }
  const top = stack.at(-1);
  if (top === undefined) return null;
  if (anyBracket) return top;
  return top === '[' ? null : top;
}

const DECL_ITEM_KIND: Record<DeclKind, CompletionItemKind> = {
  dataset: CompletionItemKind.Class,
  classset: CompletionItemKind.Enum,
  architecture: CompletionItemKind.Struct,
  schedule: CompletionItemKind.Event,
  sampling: CompletionItemKind.Operator,
  augmentation: CompletionItemKind.Interface,
  experiment: CompletionItemKind.Module,
  family: CompletionItemKind.Module,
};

function markdown(value: string | null) {
  return value === null ? undefined : { kind: MarkupKind.Markdown, value };
}

/** The completion items for a cursor context. */
export function completionItems(ctx: CursorContext, checked: CheckedProgram, stdModules: readonly string[]): CompletionItem[] {
  switch (ctx.at) {
    case 'none':
      return [];
    case 'top':
      return [...DECLARATION_WORDS, 'import'].map((w) => ({ label: w, kind: CompletionItemKind.Keyword }));
    case 'import':
      return stdModules.map((m) => ({ label: `std/${m}`, kind: CompletionItemKind.File }));
    case 'key': {
      if (ctx.block === 'classes') return [{ label: 'tags', kind: CompletionItemKind.Property, detail: 'tags of the class before it, e.g. tags [cancer]' }];
      if (ctx.block === null || ctx.block === 'labels') return [];
      const kind: BlockKind = ctx.block;
      return (BLOCK_FIELDS[kind] as readonly string[])
        .filter((f) => !ctx.present.has(f))
        .map((f) => ({ label: f, kind: CompletionItemKind.Field, detail: `${kind} field`, documentation: markdown(fieldFacts(kind, f)) }));
    }
    case 'value': {
      if (ctx.block === null || ctx.block === 'classes' || ctx.block === 'labels') return [];
      const spec = (FIELD_VALUES[ctx.block] as Record<string, FieldValue | undefined> | undefined)?.[ctx.key];
      if (spec === undefined) return [];
      if (ctx.call === 'tagged') {
        const tags = new Set([...checked.datasets.values()].flatMap((d) => d.spec.classes.flatMap((c) => c.tags)));
        return [...tags].sort().map((t) => ({ label: t, kind: CompletionItemKind.Constant, detail: 'a tag of some classes' }));
      }
      if (ctx.call !== null && ctx.call !== 'each' && spec.calls?.[ctx.call] !== undefined) {
        return ctx.afterOpen ? spec.calls[ctx.call].map((p) => ({ label: p, kind: CompletionItemKind.Variable, insertText: `${p}: `, detail: `argument of ${ctx.call}(...)` })) : [];
      }
      const items: CompletionItem[] = [];
      const refs = spec.refs ?? [];
      if (ctx.member !== null) {
        const d = refs.includes('dataset') ? checked.datasets.get(ctx.member) : undefined;
        return (d?.spec.classes ?? []).map((c) => ({ label: c.name, kind: CompletionItemKind.EnumMember, detail: `class of ${ctx.member}: labels ${c.labels.join(', ')}` }));
      }
      for (const sym of checked.symbols.values()) {
        if (!refs.includes(sym.kind)) continue;
        items.push({ label: sym.name, kind: DECL_ITEM_KIND[sym.kind], detail: `${sym.kind} (${sym.file})`, documentation: markdown(items.length < 200 ? declarationFacts(checked, sym.name, null) : null) });
      }
      for (const w of spec.words ?? []) items.push({ label: w, kind: CompletionItemKind.EnumMember, detail: `option of '${ctx.key}'` });
      for (const [callee, params] of Object.entries(spec.calls ?? {})) {
        items.push({ label: callee, kind: CompletionItemKind.Function, detail: `${callee}(${params.join(', ')})`, insertText: `${callee}($0)`, insertTextFormat: InsertTextFormat.Snippet });
      }
      if (spec.bool) items.push({ label: 'true', kind: CompletionItemKind.Keyword }, { label: 'false', kind: CompletionItemKind.Keyword });
      return items;
    }
  }
}
