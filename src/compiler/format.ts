/**
 * `mtc fmt`: the canonical layout of an .mt file. Keeps every comment and the author's line
 * breaks (at most one blank line in a row), and normalises everything else: two-space indentation
 * per open block or bracket, single spaces between tokens, two spaces between fields that share a
 * line, field values aligned within a run of consecutive single-line fields, trailing comments
 * aligned within a run. Idempotent. Files with syntax errors are not formatted.
 */
import type { IToken } from 'chevrotain';
import { tokenMatcher } from './grammar/chevrotain.js';
import type { Block } from './ast.js';
import { hasErrors, type Diagnostic } from './diagnostics.js';
import { Colon, Comma, Dot, Import, LBracket, LCurly, LineComment, LParen, RBracket, RCurly, RParen } from './grammar/tokens.js';
import { mtLexer } from './grammar/tokens.js';
import { parseSource } from './parse.js';

export interface FormatResult {
  /** The formatted text, or null when the file has syntax errors. */
  text: string | null;
  diagnostics: Diagnostic[];
}

interface Piece {
  text: string;
  /** Entry key that starts a field. */
  key: boolean;
  comment: 'line' | 'block' | null;
}

interface Line {
  indent: number;
  pieces: Piece[];
  /** Separators before each piece (index 0 unused). */
  gaps: string[];
  blankBefore: boolean;
}

function keyOffsets(blocks: Array<Block | null>, out: Set<number>): Set<number> {
  for (const b of blocks) {
    for (const e of b?.entries ?? []) {
      out.add(e.key.span.start.offset);
      keyOffsets([e.block], out);
    }
  }
  return out;
}

const isOpen = (t: IToken) => tokenMatcher(t, LCurly) || tokenMatcher(t, LBracket) || tokenMatcher(t, LParen);
const isClose = (t: IToken) => tokenMatcher(t, RCurly) || tokenMatcher(t, RBracket) || tokenMatcher(t, RParen);

function newlinesBetween(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

export function formatSource(file: string, text: string): FormatResult {
  const parsed = parseSource(file, text);
  const syntax = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (hasErrors(syntax)) return { text: null, diagnostics: parsed.diagnostics };
  if (text.trim() === '') return { text: '', diagnostics: [] };
  const keys = keyOffsets(parsed.ast.declarations.map((d) => d.body), new Set());
  const lexed = mtLexer.tokenize(text);
  const items: IToken[] = [...lexed.tokens, ...(lexed.groups.comments ?? [])].sort((a, b) => a.startOffset - b.startOffset);

  // A block whose braces are on different lines gets its fields on lines of their own.
  const multiline = new Set<IToken>();
  const stack: IToken[] = [];
  for (const t of lexed.tokens) {
    if (tokenMatcher(t, LCurly)) stack.push(t);
    else if (tokenMatcher(t, RCurly)) {
      const open = stack.pop();
      if (open !== undefined && open.startLine !== t.startLine) {
        multiline.add(open);
        multiline.add(t);
      }
    }
  }

  const lines: Line[] = [];
  let depth = 0;
  let prev: IToken | null = null;
  let line: Line | null = null;
  for (const t of items) {
    const isComment = tokenMatcher(t, LineComment) || t.tokenType.GROUP === 'comments';
    const nl = prev === null ? 0 : newlinesBetween(text, prev.startOffset + prev.image.length, t.startOffset);
    const forced =
      prev !== null &&
      nl === 0 &&
      !isComment &&
      ((depth === 0 && (tokenMatcher(prev, RCurly) || tokenMatcher(t, Import) || prev.tokenType.name === 'TerminatedString')) ||
        (multiline.has(prev) && tokenMatcher(prev, LCurly)) ||
        (multiline.has(t) && tokenMatcher(t, RCurly)));
    const piece: Piece = { text: isComment ? t.image.trimEnd() : t.image, key: keys.has(t.startOffset), comment: isComment ? (tokenMatcher(t, LineComment) ? 'line' : 'block') : null };
    if (line === null || nl > 0 || forced) {
      const level = Math.max(0, isClose(t) ? depth - 1 : depth);
      line = { indent: level, pieces: [piece], gaps: [''], blankBefore: nl > 1 && lines.length > 0 };
      lines.push(line);
    } else {
      let gap = ' ';
      if (isComment) gap = '  ';
      else if (prev !== null && (tokenMatcher(prev, LBracket) || tokenMatcher(prev, LParen) || tokenMatcher(prev, Dot))) gap = '';
      else if (tokenMatcher(t, RBracket) || tokenMatcher(t, RParen) || tokenMatcher(t, Comma) || tokenMatcher(t, Colon) || tokenMatcher(t, Dot)) gap = '';
      else if (tokenMatcher(t, LParen) && prev !== null && !tokenMatcher(prev, Comma)) gap = '';
      else if (piece.key && prev !== null && !tokenMatcher(prev, LCurly)) gap = '  ';
      line.gaps.push(gap);
      line.pieces.push(piece);
    }
    if (!isComment) {
      if (isOpen(t)) depth++;
      else if (isClose(t)) depth = Math.max(0, depth - 1);
    }
    prev = t;
  }

  alignKeys(lines);
  const rendered = lines.map((l) => ({ l, code: codeOf(l) }));
  alignComments(rendered);
  const out: string[] = [];
  for (const { l, code } of rendered) {
    if (l.blankBefore) out.push('');
    out.push(code.trimEnd());
  }
  return { text: `${out.join('\n')}\n`, diagnostics: parsed.diagnostics };
}

/** The line's text; a trailing line comment is kept apart (in `comment`) for alignment. */
function codeOf(l: Line): string {
  let s = '  '.repeat(l.indent);
  l.pieces.forEach((p, i) => {
    s += (i === 0 ? '' : l.gaps[i]) + p.text;
  });
  return s;
}

/**
 * Lines whose field values are aligned together: 'v' = `key value ...`, 'b' = `key { ... }` closed on
 * the line, 'c' = `key value { ... }`; null = not aligned (no value, or a block left open).
 */
function shape(l: Line): 'v' | 'b' | 'c' | null {
  if (l.pieces.length < 2 || !l.pieces[0].key || l.pieces[1].comment !== null) return null;
  const code = l.pieces.filter((p) => p.comment === null);
  if (code[code.length - 1].text === '{') return null;
  if (l.pieces[1].text === '{') return 'b';
  return code.some((p) => p.text === '{') ? 'c' : 'v';
}

function alignable(l: Line): boolean {
  return shape(l) !== null;
}

function alignKeys(lines: Line[]): void {
  let i = 0;
  while (i < lines.length) {
    if (!alignable(lines[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < lines.length && shape(lines[j + 1]) === shape(lines[i]) && !lines[j + 1].blankBefore && lines[j + 1].indent === lines[i].indent) j++;
    const width = Math.max(...lines.slice(i, j + 1).map((l) => l.pieces[0].text.length));
    for (let k = i; k <= j; k++) lines[k].gaps[1] = ' '.repeat(width - lines[k].pieces[0].text.length + 1);
    i = j + 1;
  }
}

function alignComments(rendered: Array<{ l: Line; code: string }>): void {
  const trailing = (r: { l: Line }) => r.l.pieces.length >= 2 && r.l.pieces[r.l.pieces.length - 1].comment === 'line';
  const split = (r: { l: Line; code: string }) => {
    const c = r.l.pieces[r.l.pieces.length - 1].text;
    return r.code.slice(0, r.code.length - c.length).trimEnd();
  };
  let i = 0;
  while (i < rendered.length) {
    if (!trailing(rendered[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < rendered.length && trailing(rendered[j + 1]) && !rendered[j + 1].l.blankBefore) j++;
    const width = Math.max(...rendered.slice(i, j + 1).map((r) => split(r).length));
    for (let k = i; k <= j; k++) {
      const r = rendered[k];
      const code = split(r);
      r.code = `${code}${' '.repeat(width - code.length + 2)}${r.l.pieces[r.l.pieces.length - 1].text}`;
    }
    i = j + 1;
  }
}
