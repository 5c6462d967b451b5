/**
 * `resolved.mt`: one experiment as a self-contained program. Every declaration it uses (through its
 * pre-training chain, datasets, class sets, architecture, schedule, sampling, augmentation),
 * wherever it was declared (imports and the stdlib included), printed as written after `--set`
 * overrides; declarations with `extends` and family expansions printed with their merged fields.
 * The experiment comes last, so `mtc run resolved.mt` compiles the same stages, with the same keys,
 * on any machine. Pure; the layout is `mtc fmt`'s.
 */
import type { Block, Entry, Value } from './ast.js';
import { chainOf } from './check/checker.js';
import type { CheckedProgram, DeclKind } from './check/model.js';
import { formatSource } from './format.js';

const KIND_ORDER: DeclKind[] = ['dataset', 'classset', 'architecture', 'schedule', 'sampling', 'augmentation'];

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

export function printValue(v: Value): string {
  switch (v.kind) {
    case 'number':
      return v.text;
    case 'string':
      return quote(v.value);
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'name':
      return v.name;
    case 'list':
      return `[${v.items.map(printValue).join(', ')}]`;
    case 'call':
      return `${v.callee.text}(${v.args.map((a) => `${a.name ? `${a.name.text}: ` : ''}${a.value ? printValue(a.value) : ''}`).join(', ')})`;
  }
}

/** `key [` + the items, as many to a line as fit in 100 columns, + `]`. */
function wrappedList(indent: string, key: string, items: string[]): string[] {
  const lines = [`${indent}${key} [`];
  let line = '';
  for (const item of items) {
    const next = line === '' ? `${indent}  ${item},` : `${line} ${item},`;
    if (next.length > 100 && line !== '') {
      lines.push(line);
      line = `${indent}  ${item},`;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  lines.push(`${indent}]`);
  return lines;
}

/** Fields that read as part of the field before them: a class's `tags`, a synthetic dataset's `seed`. */
function trailsPrevious(prev: Entry | undefined, e: Entry): boolean {
  return prev !== undefined && prev.block === null && ((e.key.text === 'tags' && prev.key.text !== 'tags') || (e.key.text === 'seed' && prev.key.text === 'synthetic'));
}

function printEntries(entries: readonly Entry[], indent: string): string[] {
  const out: string[] = [];
  entries.forEach((e, i) => {
    const head = `${indent}${e.key.text}${e.value ? ` ${printValue(e.value)}` : ''}`;
    if (e.block === null && trailsPrevious(entries[i - 1], e)) {
      out[out.length - 1] += `  ${head.trimStart()}`;
      return;
    }
    if (e.block === null && head.length > 100 && e.value?.kind === 'list') out.push(...wrappedList(indent, e.key.text, e.value.items.map(printValue)));
    else if (e.block === null) out.push(head);
    else if (e.block.entries.length === 0) out.push(`${head} { }`);
    else out.push(`${head} {`, ...printEntries(e.block.entries, `${indent}  `), `${indent}}`);
  });
  return out;
}

function printDeclaration(kind: string, name: string, block: Block | null): string {
  const entries = block?.entries ?? [];
  return entries.length === 0 ? `${kind} ${name} { }` : [`${kind} ${name} {`, ...printEntries(entries, '  '), '}'].join('\n');
}

/** Names a value refers to (a dotted `dataset.class` refers to its dataset). */
function namesIn(v: Value | null, out: Set<string>): void {
  if (v === null) return;
  if (v.kind === 'name') {
    out.add(v.name);
    const dot = v.name.indexOf('.');
    if (dot > 0) out.add(v.name.slice(0, dot));
  } else if (v.kind === 'list') for (const i of v.items) namesIn(i, out);
  else if (v.kind === 'call') for (const a of v.args) namesIn(a.value, out);
}

function namesInBlock(b: Block | null, out: Set<string>): void {
  for (const e of b?.entries ?? []) {
    namesIn(e.value, out);
    namesInBlock(e.block, out);
  }
}

/**
 * The resolved source of `experiment` (see the module doc). `header` lines are written as comments
 * at the top. Throws when the experiment was not checked cleanly.
 */
export function resolvedSource(
  checked: CheckedProgram,
  experiment: string,
  header: readonly string[] = [],
  /** Rewrites a `pretrained "FILE"` path (relative to `file`, the experiment's .mt file), e.g. to an absolute one. */
  checkpointPath: (file: string, path: string) => string = (_f, p) => p,
): string {
  const chain = chainOf(checked, experiment);
  if (chain === null || chain.length === 0) throw new Error(`internal: experiment '${experiment}' has no checked pre-training chain`);
  const withCheckpoint = (file: string, block: Block | null): Block | null =>
    block === null
      ? null
      : { ...block, entries: block.entries.map((e) => (e.key.text === 'pretrained' && e.value?.kind === 'string' ? { ...e, value: { ...e.value, value: checkpointPath(file, e.value.value) } } : e)) };
  const blocks = chain.map((e) => ({ name: e.name, block: withCheckpoint(e.file, checked.blocks.get(e.name) ?? null) }));
  const blockOf = (name: string, own: Block | null) => (checked.blocks.has(name) ? (checked.blocks.get(name) ?? null) : own);
  // Every non-experiment declaration reachable from the chain's blocks.
  const used = new Set<string>();
  const queue: Array<Block | null> = blocks.map((b) => b.block);
  while (queue.length > 0) {
    const refs = new Set<string>();
    namesInBlock(queue.shift() ?? null, refs);
    for (const n of refs) {
      const sym = checked.symbols.get(n);
      if (sym === undefined || used.has(n) || sym.kind === 'experiment' || sym.kind === 'family') continue;
      used.add(n);
      queue.push(blockOf(n, sym.decl.body));
    }
  }
  const parts: string[] = [];
  for (const kind of KIND_ORDER) {
    for (const sym of checked.symbols.values()) {
      if (sym.kind === kind && used.has(sym.name)) parts.push(printDeclaration(kind, sym.name, blockOf(sym.name, sym.decl.body)));
    }
  }
  for (const b of blocks) parts.push(printDeclaration('experiment', b.name, b.block));
  const text = `${header.map((h) => `// ${h}`.trimEnd()).join('\n')}${header.length > 0 ? '\n\n' : ''}${parts.join('\n\n')}\n`;
  return formatSource('resolved.mt', text).text ?? text;
}
