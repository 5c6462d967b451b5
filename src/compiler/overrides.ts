/**
 * `--set PATH=VALUE` overrides, applied to a loaded program's syntax trees before checking, so the
 * value is type-checked exactly like source. PATH is FIELD (a field of the main experiment),
 * NAME.FIELD (a field of declaration NAME, or of experiment NAME of a family) or NAME.BLOCK.FIELD
 * (a field of a nested block such as evaluation or a transform). VALUE is written as in a .mt
 * file: `4`, `[2, 2, 2]`, `poly(0.01, 0.9)`, or a whole block: `{ tta true  step 0.5 }`.
 * Diagnostics about an override point into the pseudo-file `--set`, one line per override.
 *
 * A declaration is edited as if its source said so (what extends it sees the change). An
 * experiment of a family exists only once the family is expanded, so its overrides travel in
 * `Program.memberOverrides` and the checker applies them to that one expansion.
 */
import type { Block, Declaration, Entry, Value } from './ast.js';
import { Inheritance, expandFamily, EXTENDS } from './check/inherit.js';
import type { DeclKind, Symbol } from './check/model.js';
import { DiagnosticSink, type Diagnostic } from './diagnostics.js';
import { parseSource } from './parse.js';
import type { MemberOverride, Program } from './program.js';
import { setField, overrideText, type SetTarget } from './set-field.js';
import { spanAt, type Span } from './source.js';
import { closest } from './suggest.js';
import { BLOCK_FIELDS } from './check/fields.js';

const EXPERIMENT_FIELDS: readonly string[] = BLOCK_FIELDS.experiment;

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

/** The experiments each family expands into, without checking anything (a throwaway sink). */
function familyMembers(program: Program): Map<string, string[]> {
  const symbols = new Map<string, Symbol>();
  for (const f of program.files.values()) {
    for (const decl of f.ast.declarations) {
      if (decl.name === null || symbols.has(decl.name.text)) continue;
      symbols.set(decl.name.text, { kind: decl.kind.text as DeclKind, name: decl.name.text, file: f.path, decl });
    }
  }
  const quiet = new DiagnosticSink();
  const inheritance = new Inheritance(symbols, quiet, (child) => symbols.get(child.decl.parent!.text));
  const out = new Map<string, string[]>();
  for (const sym of symbols.values()) {
    if (sym.kind === 'family') out.set(sym.name, expandFamily(quiet, sym, inheritance.blockOf(sym)).map((x) => x.name));
  }
  return out;
}

/** The entries of `key` that declaration `decl` inherits through `extends` (the nearest ancestor that gives it). */
function inheritedEntries(decls: ReadonlyMap<string, Declaration>, decl: Declaration, key: string): Entry[] {
  const seen = new Set<string>();
  let cur = decl.parent !== null && decl.kind.text in EXTENDS ? decls.get(decl.parent.text) : undefined;
  while (cur !== undefined && cur.name !== null && !seen.has(cur.name.text)) {
    seen.add(cur.name.text);
    const found = (cur.body?.entries ?? []).filter((e) => e.key.text === key);
    if (found.length > 0) return found;
    cur = cur.parent !== null ? decls.get(cur.parent.text) : undefined;
  }
  return [];
}

/** A field as a declaration has it: its own entry, else the nearest ancestor's. */
function fieldOf(decls: ReadonlyMap<string, Declaration>, decl: Declaration, key: string): Entry | undefined {
  return decl.body?.entries.find((e) => e.key.text === key) ?? inheritedEntries(decls, decl, key)[0];
}

/** The declaration a fine-tune takes its `architecture` from: the pre-trained experiment's, down the chain. */
function architectureOf(decls: ReadonlyMap<string, Declaration>, decl: Declaration): string | null {
  const seen = new Set<Declaration>();
  let cur: Declaration | undefined = decl;
  while (cur !== undefined && !seen.has(cur)) {
    seen.add(cur);
    const arch: Value | null | undefined = fieldOf(decls, cur, 'architecture')?.value;
    if (arch?.kind === 'name') return arch.name;
    const pre: Value | null | undefined = fieldOf(decls, cur, 'pretrained')?.value;
    cur = pre?.kind === 'name' ? decls.get(pre.name) : undefined;
  }
  return null;
}

/**
 * A copy of `program` with the overrides applied (the original is not modified). `main` names
 * the experiment that bare FIELD paths apply to (default: the main experiment of the entry file:
 * its last experiment, or the last expansion of a family that ends it).
 */
export function applyOverrides(program: Program, sets: readonly string[], main?: string): OverrideResult {
  if (sets.length === 0) return { program, diagnostics: [] };
  const out: Program = structuredClone(program);
  const sink = new DiagnosticSink();
  const text = sets.join('\n');
  out.sources.set(OVERRIDE_FILE, text);
  const decls = new Map<string, Declaration>();
  for (const f of out.files.values()) for (const d of f.ast.declarations) if (d.name && !decls.has(d.name.text)) decls.set(d.name.text, d);
  let members: Map<string, string> | undefined;
  /** Experiment of a family -> the family, as the source expands them (on first need). */
  const memberOf = (): Map<string, string> => {
    members ??= new Map([...familyMembers(program)].flatMap(([family, names]) => names.map((n): [string, string] => [n, family])));
    return members;
  };
  const entryMain = (out.files.get(out.entry)?.ast.declarations ?? []).filter((d) => (d.kind.text === 'experiment' || d.kind.text === 'family') && d.name).at(-1);
  const mainName = main ?? (entryMain?.kind.text === 'family' ? [...memberOf()].filter(([, f]) => f === entryMain.name!.text).at(-1)?.[0] : entryMain?.name?.text);
  const memberOverrides: MemberOverride[] = [...(out.memberOverrides ?? [])];

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
    let targetName: string;
    let fields: string[];
    // FIELD and FIELD.SUBFIELD (`evaluation.tta`) are the main experiment's: field words are reserved, so they name no declaration.
    const mainRelative = path.length === 1 || (EXPERIMENT_FIELDS.includes(path[0]) && !decls.has(path[0]));
    if (mainRelative) {
      if (mainName === undefined) {
        sink.error('MT0006', pathSpan, `--set ${path.join('.')}=...: there is no main experiment to apply it to`, 'write NAME.FIELD to name the declaration');
        return;
      }
      targetName = mainName;
      fields = path;
    } else {
      targetName = path[0];
      fields = path.slice(1);
    }
    const name = mainRelative ? null : targetName;
    const decl = decls.get(targetName);
    const family = decl === undefined ? memberOf().get(targetName) : undefined;
    if (decl === undefined && family === undefined) {
      const s = closest(targetName, [...decls.keys(), ...memberOf().keys()]);
      const at = mainRelative ? pathSpan : spanAt(OVERRIDE_FILE, text, lineStart, path[0].length);
      sink.error('MT0006', at, mainRelative ? `--set ${path[0]}=...: no experiment named '${targetName}' to apply it to` : `--set: no declaration or experiment named '${targetName}'`, s ? `did you mean '${s}'?` : undefined);
      return;
    }
    // Parse the value as the field of a throwaway block, so it is read exactly like source.
    const key = fields[fields.length - 1];
    const prefix = `x { ${key} `;
    const parsed = parseSource(OVERRIDE_FILE, `${prefix}${valueText} }`);
    const body = parsed.ast.declarations[0]?.body;
    const parsedEntry = body?.entries[0];
    if (parsed.diagnostics.length > 0 || parsedEntry === undefined || (parsedEntry.value === null && parsedEntry.block === null) || body!.entries.length !== 1 || parsed.ast.declarations.length !== 1) {
      sink.error('MT0006', spanAt(OVERRIDE_FILE, text, lineStart + eq + 1, valueText.length), `--set ${set.slice(0, eq)}: '${valueText.trim()}' is not one value`, 'write the value as in a .mt file: 4, 0.01, [2, 2, 2], "text", poly(0.01, 0.9), or a block { tta true }');
      return;
    }
    const columnDelta = eq + 1 - prefix.length;
    const offsetDelta = lineStart + eq + 1 - prefix.length;
    const moved = relocate({ value: parsedEntry.value, block: parsedEntry.block }, line - 1, offsetDelta, columnDelta);
    const entry: Entry = { key: { text: key, span: pathSpan }, value: moved.value, block: moved.block, span: whole };
    if (family !== undefined) {
      memberOverrides.push({ experiment: targetName, family, fields, entry, name, valueText, span: pathSpan });
      return;
    }
    const target: SetTarget = {
      name,
      owner: `${decl!.kind.text} '${targetName}'`,
      valueText,
      inherited: (k) => inheritedEntries(decls, decl!, k),
      isDeclaration: (n) => decls.has(n),
      absent: (k, rest) => {
        if (decl!.kind.text !== 'experiment' || k !== 'architecture') return undefined;
        const from = architectureOf(decls, decl!);
        return from === null ? undefined : `a fine-tune uses the architecture of the experiment it starts from, '${from}': --set ${overrideText(from, rest, valueText)}`;
      },
    };
    let block: Block | null = decl!.body;
    if (block === null) {
      block = { entries: [], span: decl!.span, closed: true };
      decl!.body = block;
    }
    const problem = setField(block, fields, entry, target);
    if (problem !== null) sink.error('MT0006', pathSpan, `--set: ${problem.message}`, problem.hint);
  });
  if (memberOverrides.length > 0) out.memberOverrides = memberOverrides;
  return { program: out, diagnostics: sink.items };
}
