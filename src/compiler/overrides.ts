/**
 * `--set PATH=VALUE` overrides, applied to a loaded program's syntax trees before checking, so the
 * value is type-checked exactly like source. PATH is FIELD (a field of the main experiment),
 * NAME.FIELD (a field of declaration NAME) or NAME.BLOCK.FIELD (a field of a nested block such as
 * evaluation or a transform). VALUE is written as in a .mt file: `4`, `[2, 2, 2]`, `poly(0.01, 0.9)`.
 * Diagnostics about an override point into the pseudo-file `--set`, one line per override.
 */
import type { Block, Declaration, Entry } from './ast.js';
import { DiagnosticSink, type Diagnostic } from './diagnostics.js';
import { parseSource } from './parse.js';
import type { Program } from './program.js';
import { spanAt, type Span } from './source.js';
import { closest } from './suggest.js';

export const OVERRIDE_FILE = '--set';

function shift(span: Span, lineDelta: number, offsetDelta: number, columnDelta: number): Span {
  const move = (p: Span['start']) => ({ line: p.line + lineDelta, column: p.line === 1 ? p.column + columnDelta : p.column, offset: p.offset + offsetDelta });
  return { file: OVERRIDE_FILE, start: move(span.start), end: move(span.end) };
}

/** Re-points every span of a parsed value into the override file. */
function relocate<T>(v: T, lineDelta: number, offsetDelta: number, columnDelta: number): T {
  if (Array.isArray(v)) return v.map((x) => relocate(x, lineDelta, offsetDelta, columnDelta)) as T;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('start' in o && 'end' in o && 'file' in o) return shift(o as unknown as Span, lineDelta, offsetDelta, columnDelta) as T;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, relocate(x, lineDelta, offsetDelta, columnDelta)])) as T;
  }
  return v;
}

export interface OverrideResult {
  program: Program;
  diagnostics: Diagnostic[];
}

/**
 * A copy of `program` with the overrides applied (the original is not modified). `main` names
 * the experiment that bare FIELD paths apply to (default: the last experiment of the entry file).
 */
export function applyOverrides(program: Program, sets: readonly string[], main?: string): OverrideResult {
  if (sets.length === 0) return { program, diagnostics: [] };
  const out: Program = structuredClone(program);
  const sink = new DiagnosticSink();
  const text = sets.join('\n');
  out.sources.set(OVERRIDE_FILE, text);
  const decls = new Map<string, Declaration>();
  for (const f of out.files.values()) for (const d of f.ast.declarations) if (d.name && !decls.has(d.name.text)) decls.set(d.name.text, d);
  const entryExperiments = (out.files.get(out.entry)?.ast.declarations ?? []).filter((d) => d.kind.text === 'experiment' && d.name);
  const mainName = main ?? entryExperiments[entryExperiments.length - 1]?.name?.text;

  let offset = 0;
  sets.forEach((set, i) => {
    const line = i + 1;
    const whole = spanAt(OVERRIDE_FILE, text, offset, set.length);
    const lineStart = offset;
    offset += set.length + 1;
    const eq = set.indexOf('=');
    if (eq <= 0) {
      sink.error('MT0006', whole, `--set '${set}' has no '=': write PATH=VALUE`, 'e.g. --set batch=4 or --set short_pretrain.epochs=2');
      return;
    }
    const path = set.slice(0, eq).trim().split('.');
    const valueText = set.slice(eq + 1);
    const pathSpan = spanAt(OVERRIDE_FILE, text, lineStart, eq);
    if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) {
      sink.error('MT0006', pathSpan, `--set path '${set.slice(0, eq)}' is not NAME.FIELD`, 'paths are names joined by dots, e.g. md_unet.batch');
      return;
    }
    let target: Declaration | undefined;
    let fields: string[];
    if (path.length === 1) {
      target = mainName === undefined ? undefined : decls.get(mainName);
      fields = path;
      if (target === undefined) {
        sink.error('MT0006', pathSpan, `--set ${path[0]}=...: there is no main experiment to apply it to`, 'write NAME.FIELD to name the declaration');
        return;
      }
    } else {
      target = decls.get(path[0]);
      fields = path.slice(1);
      if (target === undefined) {
        const s = closest(path[0], decls.keys());
        sink.error('MT0006', spanAt(OVERRIDE_FILE, text, lineStart, path[0].length), `--set: no declaration named '${path[0]}'`, s ? `did you mean '${s}'?` : undefined);
        return;
      }
    }
    // Parse the value as the field of a throwaway block, so it is read exactly like source.
    const prefix = `x { ${fields[fields.length - 1]} `;
    const parsed = parseSource(OVERRIDE_FILE, `${prefix}${valueText} }`);
    const entry = parsed.ast.declarations[0]?.body?.entries[0];
    const columnDelta = eq + 1 - prefix.length;
    const offsetDelta = lineStart + eq + 1 - prefix.length;
    if (parsed.diagnostics.length > 0 || entry === undefined || entry.value === null || parsed.ast.declarations[0].body!.entries.length !== 1) {
      sink.error('MT0006', spanAt(OVERRIDE_FILE, text, lineStart + eq + 1, valueText.length), `--set ${set.slice(0, eq)}: '${valueText.trim()}' is not one value`, 'write the value as in a .mt file: 4, 0.01, [2, 2, 2], "text", poly(0.01, 0.9)');
      return;
    }
    const value = relocate(entry.value, line - 1, offsetDelta, columnDelta);
    let block: Block | null = target.body;
    for (const f of fields.slice(0, -1)) {
      const holder: Entry | undefined = block?.entries.find((e) => e.key.text === f);
      if (holder === undefined || holder.block === null) {
        sink.error('MT0006', pathSpan, `--set: '${target.name!.text}' has no '${f}' block to set '${fields[fields.length - 1]}' in`, `add '${f} { ... }' to ${target.kind.text} '${target.name!.text}' first`);
        return;
      }
      block = holder.block;
    }
    if (block === null) {
      block = { entries: [], span: target.span, closed: true };
      target.body = block;
    }
    const key = fields[fields.length - 1];
    const newEntry: Entry = { key: { text: key, span: pathSpan }, value, block: null, span: whole };
    const kept = block.entries.filter((e) => e.key.text !== key);
    block.entries = [...kept, newEntry];
  });
  return { program: out, diagnostics: sink.items };
}
