/**
 * Abstract syntax of a `.mt` file. Every node carries its source span. The parser recovers from
 * errors, so any child may be missing (null) in a file that has syntax errors; the checker still
 * runs on whatever is there.
 */
import type { Span } from './source.js';

export interface Ident {
  text: string;
  span: Span;
}

export interface FileAst {
  path: string;
  imports: ImportDecl[];
  declarations: Declaration[];
}

export interface ImportDecl {
  /** The path exactly as written (quotes removed), or null if missing. */
  spec: string | null;
  span: Span;
  specSpan: Span;
}

export interface Declaration {
  /** The kind word as written: `dataset`, `architecture`, ... (or a misspelling of one). */
  kind: Ident;
  name: Ident | null;
  /** `extends PARENT`, or null. */
  parent: Ident | null;
  body: Block | null;
  span: Span;
}

export interface Block {
  entries: Entry[];
  span: Span;
  /** False when the closing `}` was missing (and inserted by recovery). */
  closed: boolean;
}

/** `key value? block?` inside a block, e.g. `patch [32, 32, 32]` or `phase heads { ... }`. */
export interface Entry {
  key: Ident;
  value: Value | null;
  block: Block | null;
  span: Span;
}

export type Value = NumberValue | StringValue | BoolValue | ListValue | NameValue | CallValue;

export interface NumberValue {
  kind: 'number';
  value: number;
  text: string;
  span: Span;
}

export interface StringValue {
  kind: 'string';
  value: string;
  span: Span;
}

export interface BoolValue {
  kind: 'bool';
  value: boolean;
  span: Span;
}

export interface ListValue {
  kind: 'list';
  items: Value[];
  span: Span;
}

/** A bare name: a reference to a declaration or an option word (`CT`, `unet`, `rest`), or a dotted path (`btcv.liver`). */
export interface NameValue {
  kind: 'name';
  /** The name as written, dots included. */
  name: string;
  span: Span;
}

/** `poly(0.01, 0.9)`, `sgd(momentum: 0.99)`. */
export interface CallValue {
  kind: 'call';
  callee: Ident;
  args: Arg[];
  span: Span;
}

export interface Arg {
  name: Ident | null;
  value: Value | null;
  span: Span;
}

/** How a value reads in a message: "number 3", "string \"x\"", "list", "name 'foo'". */
export function describeValue(v: Value): string {
  switch (v.kind) {
    case 'number':
      return `number ${v.text}`;
    case 'string':
      return `string "${v.value.length > 24 ? `${v.value.slice(0, 21)}...` : v.value}"`;
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'list':
      return `a list of ${v.items.length} item${v.items.length === 1 ? '' : 's'}`;
    case 'name':
      return `name '${v.name}'`;
    case 'call':
      return `call ${v.callee.text}(...)`;
  }
}
