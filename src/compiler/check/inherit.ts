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
  /** Links whose `extends` chain is known to end without a loop. */
  private readonly acyclic = new Set<string>();
  /** Links whose chain runs into a loop, and that loop. */
  private readonly loops = new Map<string, Loop>();

  constructor(
    private readonly symbols: ReadonlyMap<string, Symbol>,
    private readonly sink: DiagnosticSink,
    /** Resolves the parent name with visibility rules; undefined when reported. */
    private readonly resolveParent: (child: Symbol, kind: DeclKind) => Symbol | undefined,
  ) {}

  /**
   * The merged block of a declaration (its own block when it extends nothing). Walks the `extends`
   * chain up without recursion (a chain may be as long as the file), then merges down from the
   * first block already known.
   */
  blockOf(sym: Symbol): Block | null {
    if (this.merged.has(sym.name)) return this.merged.get(sym.name) ?? null;
    // A chain that runs into a loop is reported once, at the first link that sees it; its links keep their own blocks.
    const loop = sym.decl.parent === null ? null : this.cycleFrom(sym);
    const pending: Symbol[] = [];
    let cur = sym;
    let base: Block | null;
    for (;;) {
      if (this.merged.has(cur.name)) {
        base = this.merged.get(cur.name) ?? null;
        break;
      }
      const own = cur.decl.body;
      const parentIdent = cur.decl.parent;
      const parentKind = EXTENDS[cur.kind];
      base = own;
      if (parentIdent === null || parentKind === undefined || cur.family !== undefined) {
        this.merged.set(cur.name, own);
        break;
      }
      const parent = this.resolveParent(cur, parentKind);
      if (parent === undefined) {
        this.merged.set(cur.name, own);
        break;
      }
      if (parent.kind !== parentKind || parent.family !== undefined) {
        const what = parent.family !== undefined ? `an experiment of family '${parent.family}'` : withArticle(DECL_NOUNS[parent.kind]);
        this.sink.error('MT0302', parentIdent.span, `'${parent.name}' is ${what}; ${withArticle(DECL_NOUNS[cur.kind])} can only extend a declared ${DECL_NOUNS[parentKind]}`);
        this.merged.set(cur.name, own);
        break;
      }
      if (loop !== null) {
        if (!this.reportedCycles.has(loop.key)) {
          this.reportedCycles.add(loop.key);
          const shown = loop.members.length > 12 ? [...loop.members.slice(0, 10), `... (${loop.members.length - 10} more)`] : loop.members;
          this.sink.error('MT0407', parentIdent.span, `inheritance cycle: ${[...shown, loop.members[0]].join(' extends ')}`, `${withArticle(DECL_NOUNS[cur.kind])} cannot extend itself, directly or through others; break the chain`);
        }
        this.merged.set(cur.name, own);
        break;
      }
      pending.push(cur);
      cur = parent;
    }
    for (let i = pending.length - 1; i >= 0; i--) {
      const child = pending[i];
      const own = child.decl.body;
      const block: Block = { entries: mergeEntries(base?.entries ?? [], own?.entries ?? []), span: own?.span ?? child.decl.span, closed: own?.closed ?? false };
      this.merged.set(child.name, block);
      base = block;
    }
    return this.merged.get(sym.name) ?? null;
  }

  /** The loop sym's `extends` chain runs into (its members, from where the chain enters it), or null. */
  private cycleFrom(sym: Symbol): Loop | null {
    const seen = new Map<string, number>();
    const order: string[] = [];
    let cur: Symbol | undefined = sym;
    let loop: Loop | null = null;
    while (cur !== undefined && cur.decl.parent !== null && !this.acyclic.has(cur.name)) {
      const known = this.loops.get(cur.name);
      if (known !== undefined) {
        loop = known;
        break;
      }
      const at = seen.get(cur.name);
      if (at !== undefined) {
        const members = order.slice(at);
        loop = { members, key: [...members].sort().join(',') };
        break;
      }
      seen.set(cur.name, order.length);
      order.push(cur.name);
      cur = this.symbols.get(cur.decl.parent.text);
    }
    // Remember the answer for every link walked, so that the next chain through them stops early.
    for (const n of order) {
      if (loop === null) this.acyclic.add(n);
      else this.loops.set(n, loop);
    }
    return loop;
  }
}

interface Loop {
  members: string[];
  /** Identifies the loop whatever link it was entered from. */
  key: string;
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

/** The most experiments one family may expand into. */
export const MAX_FAMILY_EXPANSION = 10_000;

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
  const count = axes.reduce((n, a) => n * a.values.length, 1);
  if (count > MAX_FAMILY_EXPANSION) {
    sink.error('MT0303', sym.decl.name?.span ?? sym.decl.kind.span, `family '${sym.name}' would expand into ${count > 1e15 ? 'more than 10^15' : count} experiments; at most ${MAX_FAMILY_EXPANSION} are allowed`, 'vary fewer fields, or split the family');
    return [];
  }
  // One experiment per combination, the last axis varying fastest (an odometer: no recursion per axis).
  const out: Expansion[] = [];
  const digits = axes.map(() => 0);
  for (let k = 0; k < count; k++) {
    const chosen = axes.map((a, i) => a.values[digits[i]]);
    const replaced = entries.map((e, i) => {
      const a = axes.findIndex((x) => x.index === i);
      return a < 0 ? e : { ...e, value: concrete(e.key.text, chosen[a]) };
    });
    const name = [sym.name, ...axes.map((a, i) => namePart(a.key, chosen[i]))].join('_');
    out.push({ name, block: { entries: replaced, span: block?.span ?? sym.decl.span, closed: block?.closed ?? true } });
    for (let i = axes.length - 1; i >= 0; i--) {
      digits[i]++;
      if (digits[i] < axes[i].values.length) break;
      digits[i] = 0;
    }
  }
  return out;
}
