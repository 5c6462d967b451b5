/**
 * `KIND b extends a { ... }`: b's block is a's (merged) block with b's fields overriding a's.
 * Experiments and families extend experiments; schedules, architectures, samplings and
 * augmentation profiles extend a declaration of their own kind. An overriding field takes the
 * place of the one it replaces (order matters for augmentation transforms and schedule phases);
 * a repeatable field given by b (a schedule's `phase`) replaces all of a's; `exclude` lists
 * accumulate down the chain unless b gives `datasets`. Families (`family f extends a { folds
 * each(0, 1) }`) expand into one experiment per combination of their `each(...)` values.
 */
import type { Block, Entry, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { withArticle } from '../words.js';
import { DECL_NOUNS, type DeclKind, type Symbol } from './model.js';

/** Which declaration kinds can extend, and the kind each one extends. */
export const EXTENDS: Partial<Record<DeclKind, DeclKind>> = {
  experiment: 'experiment',
  family: 'experiment',
  schedule: 'schedule',
  architecture: 'architecture',
  sampling: 'sampling',
  augmentation: 'augmentation',
};

/** b's entries over a's: see the module comment. */
export function mergeEntries(base: readonly Entry[], own: readonly Entry[]): Entry[] {
  const ownKeys = new Set(own.map((e) => e.key.text));
  const overrides = (key: string) => ownKeys.has(key) && !(key === 'exclude' && !ownKeys.has('datasets'));
  const out: Entry[] = [];
  const placed = new Set<string>();
  for (const e of base) {
    const key = e.key.text;
    if (key === 'exclude' && ownKeys.has('datasets')) continue;
    if (!overrides(key)) {
      out.push(e);
      continue;
    }
    if (placed.has(key)) continue;
    placed.add(key);
    out.push(...own.filter((o) => o.key.text === key));
  }
  out.push(...own.filter((o) => !placed.has(o.key.text)));
  return out;
}

export class Inheritance {
  private readonly merged = new Map<string, Block | null>();
  private readonly reportedCycles = new Set<string>();

  constructor(
    private readonly symbols: ReadonlyMap<string, Symbol>,
    private readonly sink: DiagnosticSink,
    /** Resolves the parent name with visibility rules; undefined when reported. */
    private readonly resolveParent: (child: Symbol, kind: DeclKind) => Symbol | undefined,
  ) {}

  /** The merged block of a declaration (its own block when it extends nothing). */
  blockOf(sym: Symbol, stack: string[] = []): Block | null {
    if (this.merged.has(sym.name)) return this.merged.get(sym.name) ?? null;
    const own = sym.decl.body;
    const parentIdent = sym.decl.parent;
    const parentKind = EXTENDS[sym.kind];
    if (parentIdent === null || parentKind === undefined || sym.family !== undefined) {
      this.merged.set(sym.name, own);
      return own;
    }
    if (stack.includes(sym.name)) return own;
    const parent = this.resolveParent(sym, parentKind);
    if (parent === undefined) {
      this.merged.set(sym.name, own);
      return own;
    }
    if (parent.kind !== parentKind || parent.family !== undefined) {
      const what = parent.family !== undefined ? `an experiment of family '${parent.family}'` : withArticle(DECL_NOUNS[parent.kind]);
      this.sink.error('MT0302', parentIdent.span, `'${parent.name}' is ${what}; ${withArticle(DECL_NOUNS[sym.kind])} can only extend a declared ${DECL_NOUNS[parentKind]}`);
      this.merged.set(sym.name, own);
      return own;
    }
    const loop = this.cycleFrom(sym);
    if (loop !== null) {
      const key = [...loop].sort().join(',');
      if (!this.reportedCycles.has(key)) {
        this.reportedCycles.add(key);
        this.sink.error('MT0407', parentIdent.span, `inheritance cycle: ${[...loop, loop[0]].join(' extends ')}`, `${withArticle(DECL_NOUNS[sym.kind])} cannot extend itself, directly or through others; break the chain`);
      }
      this.merged.set(sym.name, own);
      return own;
    }
    const base = this.blockOf(parent, [...stack, sym.name]);
    const block: Block = {
      entries: mergeEntries(base?.entries ?? [], own?.entries ?? []),
      span: own?.span ?? sym.decl.span,
      closed: own?.closed ?? false,
    };
    this.merged.set(sym.name, block);
    return block;
  }

  /** The names of the loop sym's `extends` chain runs into, starting at sym, or null. */
  private cycleFrom(sym: Symbol): string[] | null {
    const seen: string[] = [];
    let cur: Symbol | undefined = sym;
    while (cur !== undefined && cur.decl.parent !== null) {
      if (seen.includes(cur.name)) return seen.slice(seen.indexOf(cur.name));
      seen.push(cur.name);
      cur = this.symbols.get(cur.decl.parent.text);
    }
    return null;
  }
}

function namePart(key: string, v: Value): string {
  switch (v.kind) {
    case 'name':
      return v.name.replace(/\./g, '_');
    case 'number':
      return key === 'folds' ? `fold${v.text}` : v.text.replace(/[^A-Za-z0-9]/g, '_');
    case 'string':
      return v.value.replace(/[^A-Za-z0-9_]/g, '_');
    case 'list':
      return v.items.map((i) => namePart(key, i)).join('_');
    default:
      return key;
  }
}

/** Fields whose each(...) values are single items of a list: `datasets each(a, b)` means [a], then [b]. */
const LIST_AXES = ['datasets', 'exclude', 'folds', 'targets', 'report'];

function concrete(key: string, v: Value): Value {
  if (LIST_AXES.includes(key) && v.kind !== 'list') return { kind: 'list', items: [v], span: v.span };
  return v;
}

export function eachValues(e: Entry): Value[] | null {
  if (e.value?.kind !== 'call' || e.value.callee.text !== 'each') return null;
  return e.value.args.map((a) => a.value).filter((v): v is Value => v !== null);
}

export interface Expansion {
  name: string;
  block: Block;
}

/** One experiment per combination of the family's `each(...)` fields, in declaration order. */
export function expandFamily(sink: DiagnosticSink, sym: Symbol, block: Block | null): Expansion[] {
  const entries = block?.entries ?? [];
  const axes: Array<{ index: number; key: string; values: Value[] }> = [];
  entries.forEach((e, index) => {
    if (e.value?.kind !== 'call' || e.value.callee.text !== 'each') return;
    const values = eachValues(e) ?? [];
    const named = e.value.args.find((a) => a.name !== null);
    if (named?.name) {
      sink.error('MT0309', named.name.span, 'each(...) takes the values to vary over, without names', `write: ${e.key.text} each(a, b, c)`);
      return;
    }
    if (values.length === 0) {
      sink.error('MT0309', e.value.span, 'each(...) needs at least one value', `write: ${e.key.text} each(a, b)`);
      return;
    }
    axes.push({ index, key: e.key.text, values });
  });
  if (axes.length === 0) {
    sink.error('MT0304', sym.decl.name?.span ?? sym.decl.kind.span, `family '${sym.name}' varies nothing`, 'give at least one field as each(...), e.g. datasets each(msd_liver, kits19)');
    return [];
  }
  const out: Expansion[] = [];
  const pick = (level: number, chosen: Value[]): void => {
    if (level === axes.length) {
      const replaced = entries.map((e, i) => {
        const a = axes.findIndex((x) => x.index === i);
        return a < 0 ? e : { ...e, value: concrete(e.key.text, chosen[a]) };
      });
      const name = [sym.name, ...axes.map((a, i) => namePart(a.key, chosen[i]))].join('_');
      out.push({ name, block: { entries: replaced, span: block?.span ?? sym.decl.span, closed: block?.closed ?? true } });
      return;
    }
    for (const v of axes[level].values) pick(level + 1, [...chosen, v]);
  };
  pick(0, []);
  return out;
}
