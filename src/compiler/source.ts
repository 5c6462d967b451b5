/**
 * Source positions. Lines and columns are 1-based; offsets are 0-based UTF-16 indices into the
 * file text. `end` is exclusive: it points just after the last character of the span.
 */
export interface Position {
  line: number;
  column: number;
  offset: number;
}

export interface Span {
  /** The file as the user named it (entry path, or the import path joined to its importer's folder). */
  file: string;
  start: Position;
  end: Position;
}

/** Minimal token shape (a Chevrotain IToken satisfies it). */
export interface TokenLike {
  startOffset: number;
  endOffset?: number;
  startLine?: number;
  startColumn?: number;
  endLine?: number;
  endColumn?: number;
  image: string;
}

function finite(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

/** True when the token carries real positions (tokens inserted by parser recovery do not). */
export function hasPosition(t: TokenLike | undefined): t is TokenLike {
  return t !== undefined && finite(t.startOffset) && finite(t.startLine) && finite(t.startColumn);
}

export function startOf(t: TokenLike): Position {
  return { line: t.startLine ?? 1, column: t.startColumn ?? 1, offset: t.startOffset };
}

export function endOf(t: TokenLike): Position {
  const endOffset = finite(t.endOffset) ? t.endOffset + 1 : t.startOffset + t.image.length;
  const endLine = finite(t.endLine) ? t.endLine : (t.startLine ?? 1);
  const endColumn = finite(t.endColumn) ? t.endColumn + 1 : (t.startColumn ?? 1) + t.image.length;
  return { line: endLine, column: endColumn, offset: endOffset };
}

export function tokenSpan(file: string, t: TokenLike): Span {
  return { file, start: startOf(t), end: endOf(t) };
}

export function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: a.start, end: b.end };
}

/** Position of an offset in a text (used for end-of-file and lexer errors). */
export function positionAt(text: string, offset: number): Position {
  const clamped = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < clamped; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: clamped - lineStart + 1, offset: clamped };
}

export function spanAt(file: string, text: string, offset: number, length: number): Span {
  return { file, start: positionAt(text, offset), end: positionAt(text, offset + Math.max(0, length)) };
}

/** The last visible character of the file (empty span for an empty file): where "end of file" errors point. */
export function endOfFileSpan(file: string, text: string): Span {
  const trimmed = text.trimEnd();
  if (trimmed.length === 0) return { file, start: positionAt(text, 0), end: positionAt(text, 0) };
  const at = trimmed.length - 1;
  return { file, start: positionAt(text, at), end: positionAt(text, at + 1) };
}
