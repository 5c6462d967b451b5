/** Builds the AST (ast.ts) from Chevrotain's CST, tolerating nodes left incomplete by recovery. */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import { tokenMatcher } from './grammar/chevrotain.js';
import type { Arg, Block, Declaration, Entry, FileAst, Ident, ImportDecl, Value } from './ast.js';
import { hasPosition, tokenSpan, type Span } from './source.js';
import { False, NumberLiteral, RCurly, StringLiteral, True } from './grammar/tokens.js';

function isToken(e: CstElement): e is IToken {
  return 'image' in e;
}

function tokens(node: CstNode, key: string): IToken[] {
  return (node.children[key] ?? []).filter(isToken).filter((t) => hasPosition(t) && !t.isInsertedInRecovery);
}

function firstToken(node: CstNode, key: string): IToken | undefined {
  return tokens(node, key)[0];
}

function nodes(node: CstNode, key: string): CstNode[] {
  return (node.children[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

/** The first and last real tokens under a node (by offset), found without collecting them. */
function extremeTokens(node: CstNode, acc: { first: IToken | undefined; last: IToken | undefined }): void {
  for (const key in node.children) {
    for (const e of node.children[key]) {
      if (isToken(e)) {
        if (!hasPosition(e) || e.isInsertedInRecovery) continue;
        if (acc.first === undefined || e.startOffset < acc.first.startOffset) acc.first = e;
        if (acc.last === undefined || e.startOffset > acc.last.startOffset) acc.last = e;
      } else extremeTokens(e, acc);
    }
  }
}

/** Unquotes a string token; an unterminated string has no closing quote to drop. */
export function unquote(image: string): string {
  const body = image.length >= 2 && image.endsWith('"') && !image.endsWith('\\"') ? image.slice(1, -1) : image.slice(1);
  return body.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

export class AstBuilder {
  constructor(private readonly path: string) {}

  private span(node: CstNode, fallback?: Span): Span | null {
    const acc: { first: IToken | undefined; last: IToken | undefined } = { first: undefined, last: undefined };
    extremeTokens(node, acc);
    if (acc.first === undefined || acc.last === undefined) return fallback ?? null;
    const a = tokenSpan(this.path, acc.first);
    const b = tokenSpan(this.path, acc.last);
    return { file: this.path, start: a.start, end: b.end };
  }

  private ident(t: IToken): Ident {
    return { text: t.image, span: tokenSpan(this.path, t) };
  }

  build(root: CstNode | undefined, into: FileAst): void {
    if (root === undefined) return;
    for (const n of nodes(root, 'importDecl')) {
      const i = this.importDecl(n);
      if (i) into.imports.push(i);
    }
    for (const n of nodes(root, 'declaration')) {
      const d = this.declaration(n);
      if (d) into.declarations.push(d);
    }
  }

  private importDecl(node: CstNode): ImportDecl | null {
    const span = this.span(node);
    if (span === null) return null;
    const path = firstToken(node, 'path');
    return {
      spec: path ? unquote(path.image) : null,
      span,
      specSpan: path ? tokenSpan(this.path, path) : span,
    };
  }

  private declaration(node: CstNode): Declaration | null {
    const kind = firstToken(node, 'kind');
    const span = this.span(node);
    if (kind === undefined || span === null) return null;
    const name = firstToken(node, 'name');
    const parent = firstToken(node, 'parent');
    const blockNode = nodes(node, 'block')[0];
    return {
      kind: this.ident(kind),
      name: name ? this.ident(name) : null,
      parent: parent ? this.ident(parent) : null,
      body: blockNode ? this.block(blockNode) : null,
      span,
    };
  }

  private block(node: CstNode): Block | null {
    const span = this.span(node);
    if (span === null) return null;
    const close = (node.children.RCurly ?? []).filter(isToken).find((t) => tokenMatcher(t, RCurly));
    const entries: Entry[] = [];
    for (const n of nodes(node, 'entry')) {
      const e = this.entry(n);
      if (e) entries.push(e);
    }
    return { entries, span, closed: close !== undefined && !close.isInsertedInRecovery && hasPosition(close) };
  }

  private entry(node: CstNode): Entry | null {
    const key = firstToken(node, 'key');
    const span = this.span(node);
    if (key === undefined || span === null) return null;
    const valueNode = nodes(node, 'value')[0];
    const blockNode = nodes(node, 'block')[0];
    return {
      key: this.ident(key),
      value: valueNode ? this.value(valueNode) : null,
      block: blockNode ? this.block(blockNode) : null,
      span,
    };
  }

  private value(node: CstNode): Value | null {
    const span = this.span(node);
    if (span === null) return null;
    for (const list of Object.values(node.children)) {
      for (const e of list) {
        if (isToken(e)) {
          if (!hasPosition(e) || e.isInsertedInRecovery) continue;
          if (tokenMatcher(e, NumberLiteral)) return { kind: 'number', value: Number(e.image), text: e.image, span };
          if (tokenMatcher(e, StringLiteral)) return { kind: 'string', value: unquote(e.image), span };
          if (tokenMatcher(e, True)) return { kind: 'bool', value: true, span };
          if (tokenMatcher(e, False)) return { kind: 'bool', value: false, span };
        }
      }
    }
    const listNode = nodes(node, 'list')[0];
    if (listNode) {
      const items: Value[] = [];
      for (const n of nodes(listNode, 'value')) {
        const v = this.value(n);
        if (v) items.push(v);
      }
      items.sort((a, b) => a.span.start.offset - b.span.start.offset);
      return { kind: 'list', items, span };
    }
    const ref = nodes(node, 'reference')[0];
    if (ref) {
      const name = firstToken(ref, 'name');
      if (name === undefined) return null;
      const dotted = [name, ...tokens(ref, 'member')].map((t) => t.image).join('.');
      if ((ref.children.LParen ?? []).length === 0) return { kind: 'name', name: dotted, span };
      const args: Arg[] = [];
      for (const n of nodes(ref, 'arg')) {
        const a = this.arg(n);
        if (a) args.push(a);
      }
      args.sort((a, b) => a.span.start.offset - b.span.start.offset);
      return { kind: 'call', callee: { text: dotted, span: this.ident(name).span }, args, span };
    }
    return null;
  }

  private arg(node: CstNode): Arg | null {
    const span = this.span(node);
    if (span === null) return null;
    const name = firstToken(node, 'name');
    const v = nodes(node, 'value')[0];
    return { name: name ? this.ident(name) : null, value: v ? this.value(v) : null, span };
  }
}
