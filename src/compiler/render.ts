/** Rendering diagnostics the way compilers do: location, severity, code, message, excerpt, caret, hint. */
import type { Diagnostic } from './diagnostics.js';
import type { Program } from './program.js';
import { count } from './words.js';

export interface RenderOptions {
  color: boolean;
  /** Append the "2 errors, 1 warning" line (default true). Commands that print their own summary pass false. */
  summary?: boolean;
}

const ansi = {
  reset: '\u001b[0m',
  bold: '\u001b[1m',
  red: '\u001b[31m',
  yellow: '\u001b[33m',
  blue: '\u001b[34m',
  cyan: '\u001b[36m',
};

function paint(on: boolean, codes: string, text: string): string {
  return on ? `${codes}${text}${ansi.reset}` : text;
}

/** The line holding `offset` (found around it, not by splitting the whole text: files can be large). */
function lineAt(text: string, offset: number): string | undefined {
  if (offset < 0 || offset > text.length) return undefined;
  const from = text.lastIndexOf('\n', offset - 1) + 1;
  const next = text.indexOf('\n', offset);
  const line = text.slice(from, next < 0 ? text.length : next);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>, options: RenderOptions): string {
  const c = options.color;
  const { start, end } = d.span;
  const sevColor = d.severity === 'error' ? ansi.red : ansi.yellow;
  const out: string[] = [];
  out.push(
    `${paint(c, ansi.bold, `${d.span.file}:${start.line}:${start.column}:`)} ${paint(c, ansi.bold + sevColor, `${d.severity}[${d.code}]`)}${paint(c, ansi.bold, `: ${d.message}`)}`,
  );
  const text = sources.get(d.span.file);
  const src = text === undefined || end.offset <= start.offset ? undefined : lineAt(text, start.offset);
  const gutterWidth = Math.max(4, String(start.line).length + 1);
  if (src !== undefined) {
    const shown = src.length > 200 ? src.slice(0, 200) : src;
    const lineNo = String(start.line).padStart(gutterWidth);
    out.push(`${paint(c, ansi.blue, `${lineNo} |`)} ${shown}`);
    const from = Math.min(start.column - 1, shown.length);
    const until = end.line === start.line ? Math.min(end.column - 1, shown.length) : shown.length;
    const width = Math.max(1, until - from);
    const pad = shown.slice(0, from).replace(/[^\t]/g, ' ');
    out.push(`${paint(c, ansi.blue, `${' '.repeat(gutterWidth)} |`)} ${pad}${paint(c, ansi.bold + sevColor, '^'.repeat(width))}`);
  }
  if (d.hint !== undefined) out.push(`${' '.repeat(gutterWidth - 1)}${paint(c, ansi.bold + ansi.cyan, 'hint:')} ${d.hint}`);
  return out.join('\n');
}

/** All diagnostics, one block each, separated by blank lines, then (unless `summary: false`) a summary line. Empty string when none. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[], program: Pick<Program, 'sources'>, options: RenderOptions): string {
  if (diagnostics.length === 0) return '';
  const blocks = diagnostics.map((d) => renderDiagnostic(d, program.sources, options));
  return options.summary === false ? `${blocks.join('\n\n')}\n` : `${blocks.join('\n\n')}\n\n${summarize(diagnostics)}\n`;
}

/** "2 errors, 1 warning" (only the counts that are not zero; "" for none). */
export function summarize(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const parts: string[] = [];
  if (errors > 0) parts.push(count(errors, 'error'));
  if (warnings > 0) parts.push(count(warnings, 'warning'));
  return parts.join(', ');
}
