/** Reading typed values out of AST values, reporting wrong types and out-of-range numbers. */
import type { Vec3 } from '../../graph/types.js';
import { describeValue, type Arg, type CallValue, type NameValue, type Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { didYouMean } from '../suggest.js';

const AXES = ['z', 'y', 'x'] as const;
export function axisName(i: number): string {
  return AXES[i] ?? String(i);
}

export class ValueReader {
  constructor(readonly sink: DiagnosticSink) {}

  private mismatch(v: Value, what: string, expected: string, hint?: string): undefined {
    return this.sink.error('MT0301', v.span, `${what} expects ${expected}, found ${describeValue(v)}`, hint);
  }

  number(v: Value, what: string): number | undefined {
    if (v.kind !== 'number') return this.mismatch(v, what, 'a number', v.kind === 'string' && Number.isFinite(Number(v.value)) ? `remove the quotes: ${v.value}` : undefined);
    if (!Number.isFinite(v.value)) return this.sink.error('MT0303', v.span, `${what}: ${v.text} is not a finite number`);
    return v.value;
  }

  /** A number within [min, max] (inclusive unless exclusiveMin). */
  ranged(v: Value, what: string, range: { min?: number; max?: number; exclusiveMin?: boolean; why?: string }): number | undefined {
    const n = this.number(v, what);
    if (n === undefined) return undefined;
    const lowOk = range.min === undefined || (range.exclusiveMin ? n > range.min : n >= range.min);
    const highOk = range.max === undefined || n <= range.max;
    if (lowOk && highOk) return n;
    const bounds =
      range.min !== undefined && range.max !== undefined
        ? `between ${range.min} and ${range.max}`
        : range.min !== undefined
          ? range.exclusiveMin
            ? `greater than ${range.min}`
            : `at least ${range.min}`
          : `at most ${range.max}`;
    return this.sink.error('MT0303', v.span, `${what} must be ${bounds}, found ${v.kind === 'number' ? v.text : n}`, range.why);
  }

  integer(v: Value, what: string, min: number, why?: string): number | undefined {
    if (v.kind !== 'number') return this.mismatch(v, what, 'a whole number', v.kind === 'string' && /^-?\d+$/.test(v.value.trim()) ? `remove the quotes: ${v.value.trim()}` : undefined);
    if (!Number.isInteger(v.value)) return this.sink.error('MT0301', v.span, `${what} expects a whole number, found ${v.text}`);
    if (v.value < min) return this.sink.error('MT0303', v.span, `${what} must be at least ${min}, found ${v.text}`, why);
    return v.value;
  }

  fraction(v: Value, what: string, why?: string): number | undefined {
    return this.ranged(v, what, { min: 0, max: 1, why });
  }

  string(v: Value, what: string): string | undefined {
    if (v.kind === 'string') return v.value;
    return this.mismatch(v, what, 'a "quoted string"', v.kind === 'name' ? `write "${v.name}"` : undefined);
  }

  bool(v: Value, what: string): boolean | undefined {
    if (v.kind === 'bool') return v.value;
    return this.mismatch(v, what, 'true or false');
  }

  list(v: Value, what: string, itemKind: string): Value[] | undefined {
    if (v.kind === 'list') return v.items;
    return this.mismatch(v, what, `a list of ${itemKind} in [ ]`, `write [${v.kind === 'name' ? v.name : v.kind === 'number' ? v.text : '...'}]`);
  }

  name(v: Value, what: string, expected = 'a name'): NameValue | undefined {
    if (v.kind === 'name') return v;
    return this.mismatch(v, what, expected, v.kind === 'string' ? `names are written without quotes: ${v.value}` : undefined);
  }

  /** One of a fixed set of option words (an identifier), with did-you-mean. */
  option<T extends string>(v: Value, what: string, options: readonly T[], unsupported: Readonly<Record<string, string>> = {}): T | undefined {
    const list = options.map((o) => `'${o}'`).join(', ');
    let word: string | undefined;
    if (v.kind === 'name') word = v.name;
    else if (v.kind === 'call' && v.args.length === 0) word = v.callee.text;
    if (word === undefined) return this.mismatch(v, what, `one of ${list}`, v.kind === 'string' ? `write it without quotes: ${v.value}` : undefined);
    if ((options as readonly string[]).includes(word)) return word as T;
    const why = unsupported[word];
    if (why !== undefined) return this.sink.error('MT0308', v.span, `${what} '${word}' is not supported by this version: ${why}`, `use one of ${list}`);
    return this.sink.error('MT0308', v.span, `unknown ${what} '${word}'; expected one of ${list}`, didYouMean(word, options));
  }

  /** Three numbers [z, y, x]. */
  vec3(v: Value, what: string, item: { integer: boolean; min: number; exclusiveMin?: boolean }): Vec3 | undefined {
    const kind = item.integer ? 'whole numbers' : 'numbers';
    if (v.kind !== 'list') return this.mismatch(v, what, `three ${kind} [z, y, x]`, v.kind === 'number' ? `write [${v.text}, ${v.text}, ${v.text}] for the same value on every axis` : undefined);
    if (v.items.length !== 3) return this.sink.error('MT0301', v.span, `${what} expects three ${kind} [z, y, x], found ${v.items.length}`);
    const out: number[] = [];
    v.items.forEach((it, i) => {
      const label = `${what} (axis ${axisName(i)})`;
      const n = item.integer
        ? this.integer(it, label, item.exclusiveMin ? item.min + 1 : item.min)
        : this.ranged(it, label, { min: item.min, exclusiveMin: item.exclusiveMin });
      if (n !== undefined) out.push(n);
    });
    return out.length === 3 ? [out[0], out[1], out[2]] : undefined;
  }
}

export interface ParamSpec {
  name: string;
  /** Undefined: required. */
  default?: number | boolean;
  read: (r: ValueReader, v: Value, what: string) => number | boolean | undefined;
}

/**
 * Binds a call's arguments to parameters (positional first, then named), reports unknown, repeated
 * and missing ones (MT0309), and reads each value. Returns undefined when anything is wrong.
 */
export function bindCall(
  r: ValueReader,
  call: CallValue | NameValue,
  params: readonly ParamSpec[],
  opts: { positional: boolean },
): Record<string, number | boolean> | undefined {
  const callee = call.kind === 'call' ? call.callee.text : call.name;
  const args: Arg[] = call.kind === 'call' ? call.args : [];
  const names = params.map((p) => p.name);
  const got = new Map<string, Value>();
  let ok = true;
  let seenNamed = false;
  args.forEach((a, i) => {
    if (a.value === null) {
      ok = false;
      return;
    }
    let pname: string;
    if (a.name === null) {
      if (!opts.positional) {
        ok = false;
        r.sink.error('MT0309', a.span, `${callee}(...) takes named arguments only`, `write e.g. ${callee}(${params.map((p) => `${p.name}: ...`).slice(0, 2).join(', ')})`);
        return;
      }
      if (seenNamed) {
        ok = false;
        r.sink.error('MT0309', a.span, `positional argument after a named one in ${callee}(...)`);
        return;
      }
      if (i >= params.length) {
        ok = false;
        r.sink.error('MT0309', a.span, `${callee}(...) takes at most ${params.length} argument${params.length === 1 ? '' : 's'} (${names.join(', ')})`);
        return;
      }
      pname = params[i].name;
    } else {
      seenNamed = true;
      pname = a.name.text;
      if (!names.includes(pname)) {
        ok = false;
        r.sink.error('MT0309', a.name.span, `${callee}(...) has no parameter '${pname}'; its parameters are ${names.join(', ')}`, didYouMean(pname, names));
        return;
      }
    }
    if (got.has(pname)) {
      ok = false;
      r.sink.error('MT0309', a.span, `${callee}(...): '${pname}' is given twice`);
      return;
    }
    got.set(pname, a.value);
  });
  const out: Record<string, number | boolean> = {};
  for (const p of params) {
    const v = got.get(p.name);
    if (v === undefined) {
      if (p.default === undefined) {
        ok = false;
        r.sink.error('MT0309', call.span, `${callee}(...) needs '${p.name}'`, `write ${callee}(${params.map((q) => q.name).join(', ')}) with values, e.g. ${callee}(${params.map((q) => (q.default === undefined ? '0.01' : String(q.default))).join(', ')})`);
      } else out[p.name] = p.default;
      continue;
    }
    const value = p.read(r, v, `${callee}(${p.name})`);
    if (value === undefined) ok = false;
    else out[p.name] = value;
  }
  return ok ? out : undefined;
}
