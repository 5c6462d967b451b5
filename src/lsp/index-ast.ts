/**
 * Where things are in a loaded program: every declaration name, reference, field key, class and
 * import of every file, with its span and what it means. Built from the compiler's ASTs and field
 * tables (no parsing of its own); hover, definition, references and completion look things up here.
 */
import {
  declarationBlockKind, FIELD_VALUES, nestedBlockKind, type Ast, type BlockKind, type DeclKind, type Program, type Span,
} from '../compiler/index.js';

/** A block's kind for the index: a field block, a dataset's `classes` or `labels`, or unknown (null). */
export type IndexBlock = BlockKind | 'classes' | 'labels' | null;

export type Occurrence =
  /** The name of a declaration. */
  | { role: 'declaration'; span: Span; name: string; kind: string }
  /** A name that refers to a declaration (`datasets [a]`, `extends a`, `pretrained a`); `member` for `dataset.class`. */
  | { role: 'reference'; span: Span; name: string; member: string | null; context: string | null }
  /** A field key. */
  | { role: 'field'; span: Span; block: IndexBlock; key: string; context: string | null }
  /** A class of a dataset, where its `classes` block declares it. */
  | { role: 'class'; span: Span; dataset: string; name: string }
  /** A value that is not a reference (an option word, a number): hover shows its field. */
  | { role: 'value'; span: Span; block: IndexBlock; key: string; context: string | null }
  /** An import's path; `target` is the display path of the file it loads (null: not found). */
  | { role: 'import'; span: Span; target: string | null };

export interface FileIndex {
  /** Occurrences in source order (nested ones after the entry that holds them). */
  occurrences: Occurrence[];
}

function contains(span: Span, offset: number): boolean {
  return span.start.offset <= offset && offset <= span.end.offset;
}

/** The innermost occurrence at an offset (the shortest span holding it), or undefined. */
export function occurrenceAt(index: FileIndex | undefined, offset: number): Occurrence | undefined {
  let best: Occurrence | undefined;
  for (const o of index?.occurrences ?? []) {
    if (!contains(o.span, offset)) continue;
    if (best === undefined || o.span.end.offset - o.span.start.offset < best.span.end.offset - best.span.start.offset) best = o;
  }
  return best;
}

/** Every file of the program, indexed. */
export function indexProgram(program: Program): Map<string, FileIndex> {
  const out = new Map<string, FileIndex>();
  for (const file of program.files.values()) out.set(file.path, indexFile(file.ast, file.imports.map((i) => i.target)));
  return out;
}

export function indexFile(ast: Ast.FileAst, importTargets: ReadonlyArray<string | null>): FileIndex {
  const occurrences: Occurrence[] = [];
  ast.imports.forEach((imp, i) => occurrences.push({ role: 'import', span: imp.specSpan, target: importTargets[i] ?? null }));
  for (const decl of ast.declarations) {
    const context = decl.name?.text ?? null;
    if (decl.name !== null) occurrences.push({ role: 'declaration', span: decl.name.span, name: decl.name.text, kind: decl.kind.text });
    if (decl.parent !== null) occurrences.push({ role: 'reference', span: decl.parent.span, name: decl.parent.text, member: null, context });
    walkBlock(decl.body, declarationBlockKind(decl.kind.text), { context, dataset: decl.kind.text === 'dataset' ? context : null }, occurrences);
  }
  return { occurrences };
}

interface Where {
  /** The declaration the block belongs to. */
  context: string | null;
  /** Set inside a dataset declaration. */
  dataset: string | null;
}

/** Blocks are walked with an explicit stack: their depth is bounded by the parser, but a loop costs nothing. */
function walkBlock(root: Ast.Block | null, rootKind: IndexBlock, where: Where, out: Occurrence[]): void {
  const stack: Array<{ block: Ast.Block | null; kind: IndexBlock }> = [{ block: root, kind: rootKind }];
  while (stack.length > 0) {
    const { block, kind } = stack.pop()!;
    for (const e of block?.entries ?? []) {
      const key = e.key.text;
      if (kind === 'classes' && key !== 'tags' && where.dataset !== null) out.push({ role: 'class', span: e.key.span, dataset: where.dataset, name: key });
      else if (kind !== 'labels') out.push({ role: 'field', span: e.key.span, block: kind, key, context: where.context });
      if (e.value !== null) walkValue(e.value, kind, key, where, out);
      if (e.block !== null) {
        const child: IndexBlock =
          kind === 'dataset' && (key === 'classes' || key === 'labels') ? key : kind === null || kind === 'classes' || kind === 'labels' ? null : nestedBlockKind(kind, key);
        stack.push({ block: e.block, kind: child });
      }
    }
  }
}

/** References (names in fields that name declarations, also inside lists and each(...)) and other values. */
function walkValue(root: Ast.Value, kind: IndexBlock, key: string, where: Where, out: Occurrence[]): void {
  const spec = kind === null || kind === 'classes' || kind === 'labels' ? undefined : (FIELD_VALUES[kind] as Record<string, { refs?: readonly DeclKind[] }> | undefined)?.[key];
  const refs = spec?.refs ?? [];
  const stack: Ast.Value[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v.kind === 'list') {
      stack.push(...v.items);
      continue;
    }
    if (v.kind === 'call') {
      // each(a, b) varies a field over values, so its arguments are what the field takes.
      if (v.callee.text === 'each') {
        for (const a of v.args) if (a.value !== null) stack.push(a.value);
      } else {
        out.push({ role: 'value', span: v.callee.span, block: kind, key, context: where.context });
      }
      continue;
    }
    if (v.kind === 'name' && refs.length > 0) {
      const dot = v.name.indexOf('.');
      out.push({ role: 'reference', span: v.span, name: dot < 0 ? v.name : v.name.slice(0, dot), member: dot < 0 ? null : v.name.slice(dot + 1), context: where.context });
      continue;
    }
    out.push({ role: 'value', span: v.span, block: kind, key, context: where.context });
  }
}
