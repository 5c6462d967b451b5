import type { Span } from './source.js';

export type Severity = 'error' | 'warning';

/**
 * Every diagnostic code the compiler can emit, with a one-line title. Codes are stable: tests,
 * docs/language.md and users' scripts refer to them. Ranges: MT00xx loading, MT01xx syntax,
 * MT02xx names, MT03xx values and types, MT04xx whole-experiment rules, MT09xx internal.
 */
export const DIAGNOSTIC_CODES = {
  MT0001: 'cannot read the entry file',
  MT0002: 'import not found',
  MT0003: 'import cycle',
  MT0004: 'not a text file',
  MT0005: 'empty file',
  MT0006: 'bad --set override',
  MT0007: 'import is not an .mt file',
  MT0101: 'unexpected character',
  MT0102: 'unterminated string or comment',
  MT0103: 'unexpected token',
  MT0104: 'unclosed block',
  MT0105: 'reserved word used as a name',
  MT0106: 'value expected',
  MT0107: 'nesting too deep',
  MT0201: 'unknown name',
  MT0202: 'duplicate declaration',
  MT0203: 'unknown field',
  MT0204: 'unknown declaration kind',
  MT0205: 'duplicate field',
  MT0206: 'duplicate entry',
  MT0207: 'unknown experiment requested',
  MT0208: 'name declared in a file that is not imported',
  MT0209: 'declaration without a name',
  MT0210: 'unused import',
  MT0211: 'unused declaration',
  MT0301: 'wrong type of value',
  MT0302: 'reference to the wrong kind of declaration',
  MT0303: 'value out of range',
  MT0304: 'missing required field',
  MT0305: 'patch not divisible by the total stride',
  MT0306: 'strides do not match the features',
  MT0307: 'phase epochs do not fit the schedule',
  MT0308: 'unknown option',
  MT0309: 'bad arguments',
  MT0310: 'invalid label value',
  MT0311: 'field not valid here',
  MT0312: 'label value not declared by the dataset',
  MT0313: 'excluded dataset is not in the list',
  MT0314: 'loss does not fit the experiment',
  MT0315: 'option does not apply to this architecture kind',
  MT0401: 'no experiment to compile',
  MT0402: 'experiments disagree on spacing',
  MT0403: 'pre-training cycle',
  MT0404: 'fine-tuning leakage: target used in pre-training',
  MT0405: 'fine-tune architecture differs from the pre-trained one',
  MT0406: 'case counts missing for some datasets',
  MT0407: 'inheritance cycle',
  MT0408: 'fine-tune targets outside the experiment',
  MT0409: 'reported class set names classes the experiment does not evaluate',
  MT0410: 'reported class set has no class of the experiment',
  MT0901: 'internal compiler error',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  /** Where: file as given, 1-based line:column start and (exclusive) end. */
  span: Span;
  message: string;
  /** A suggestion for the fix, e.g. "did you mean 'liver'?". */
  hint?: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Collects diagnostics; `error`/`warning` return nothing so checkers can `return sink.error(...)`. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];

  error(code: DiagnosticCode, span: Span, message: string, hint?: string): undefined {
    this.items.push(hint === undefined ? { code, severity: 'error', span, message } : { code, severity: 'error', span, message, hint });
    return undefined;
  }

  warning(code: DiagnosticCode, span: Span, message: string, hint?: string): undefined {
    this.items.push(hint === undefined ? { code, severity: 'warning', span, message } : { code, severity: 'warning', span, message, hint });
    return undefined;
  }
}

/** Drops exact repeats (inherited fields are checked once per experiment that inherits them). */
export function dedupeDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.code}|${d.span.file}|${d.span.start.offset}|${d.span.end.offset}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Stable order: by file (in the given order, unknown files last), then by position, then code. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[], fileOrder: readonly string[] = []): Diagnostic[] {
  const rank = (file: string) => {
    const i = fileOrder.indexOf(file);
    return i < 0 ? fileOrder.length : i;
  };
  return [...diagnostics].sort(
    (a, b) =>
      rank(a.span.file) - rank(b.span.file) ||
      a.span.file.localeCompare(b.span.file) ||
      a.span.start.offset - b.span.start.offset ||
      a.code.localeCompare(b.code),
  );
}

/** A diagnostic as `mtc check --format json` prints it. */
export interface DiagnosticJson {
  code: DiagnosticCode;
  severity: Severity;
  file: string;
  /** 1-based lines and columns, 0-based offsets; `end` is exclusive. */
  range: { start: { line: number; column: number; offset: number }; end: { line: number; column: number; offset: number } };
  message: string;
  hint: string | null;
}

export function diagnosticToJson(d: Diagnostic): DiagnosticJson {
  return { code: d.code, severity: d.severity, file: d.span.file, range: { start: { ...d.span.start }, end: { ...d.span.end } }, message: d.message, hint: d.hint ?? null };
}
