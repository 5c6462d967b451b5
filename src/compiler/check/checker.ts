/**
 * The checker: builds the symbol table of a loaded program (expanding families), checks every
 * declaration, and applies the rules that span several declarations (inheritance, pre-training
 * chains, shared spacing, leakage, unused names). Pure.
 */
import { posix } from 'node:path';
import type { ArchitectureSpec, Vec3 } from '../../graph/types.js';
import type { Block, Declaration, NameValue } from '../ast.js';
import { DiagnosticSink } from '../diagnostics.js';
import { DECLARATION_WORDS, RESERVED_WORDS } from '../grammar/tokens.js';
import type { MemberOverride, Program, SourceFile } from '../program.js';
import { setField } from '../set-field.js';
import { closest } from '../suggest.js';
import { withArticle } from '../words.js';
import { checkArchitecture, instantiate } from './architectures.js';
import { checkAugmentation } from './augmentation.js';
import { checkClassSet, type ClassContext } from './classsets.js';
import { checkDataset } from './datasets.js';
import { checkExperiment, type ExperimentContext } from './experiments.js';
import { eachValues, expandFamily, EXTENDS, Inheritance } from './inherit.js';
import { DECL_NOUNS, type CheckedProgram, type DeclKind, type ExperimentModel, type Symbol } from './model.js';
import { checkSampling } from './sampling.js';
import { checkSchedule } from './schedules.js';
import { checkUnused, Usage } from './usage.js';

const ARTICLE = Object.fromEntries(Object.entries(DECL_NOUNS).map(([k, noun]) => [k, withArticle(noun)])) as Record<DeclKind, string>;

function isDeclKind(word: string): word is DeclKind {
  return (DECLARATION_WORDS as readonly string[]).includes(word);
}

/** Files whose declarations `file` can see: itself and everything it imports, transitively. */
export function visibleFiles(program: Program, file: string): Set<string> {
  const seen = new Set<string>();
  const stack = [file];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const imp of program.files.get(f)?.imports ?? []) if (imp.target !== null) stack.push(imp.target);
  }
  return seen;
}

export function emptyChecked(): CheckedProgram {
  return {
    symbols: new Map(), datasets: new Map(), classsets: new Map(), architectures: new Map(), schedules: new Map(),
    samplings: new Map(), augmentations: new Map(), experiments: new Map(), families: new Map(),
    resolvedArchitectures: new Map(), resolvedSpacing: new Map(), blocks: new Map(),
  };
}

export function checkLoadedProgram(program: Program, sink: DiagnosticSink): CheckedProgram {
  const checked = emptyChecked();
  const files: SourceFile[] = [...program.files.values()];
  const usage = new Usage();

  // 1. Symbols.
  const declare = (sym: Symbol, span: Declaration['kind']['span']): void => {
    const prior = checked.symbols.get(sym.name);
    if (prior) {
      const p = prior.decl.name!.span;
      sink.error('MT0202', span, `'${sym.name}' is already declared as ${ARTICLE[prior.kind]} at ${p.file}:${p.start.line}:${p.start.column}${sym.family ? ` (family '${sym.family}' expands to this name)` : ''}`, 'names are shared by all declarations of a program; rename one of them');
      return;
    }
    checked.symbols.set(sym.name, sym);
  };
  for (const file of files) {
    for (const decl of file.ast.declarations) {
      const word = decl.kind.text;
      if (!isDeclKind(word)) {
        const s = closest(word, DECLARATION_WORDS);
        sink.error('MT0204', decl.kind.span, `unknown declaration '${word}'`, s ? `did you mean '${s}'?` : `declarations are: ${DECLARATION_WORDS.join(', ')}`);
        continue;
      }
      if (decl.name === null) {
        sink.error('MT0209', decl.kind.span, `this ${word} has no name`, `write: ${word} my_${word} { ... }`);
        continue;
      }
      const name = decl.name.text;
      if (RESERVED_WORDS.includes(name)) {
        sink.error('MT0105', decl.name.span, `'${name}' is a reserved word and cannot name ${withArticle(word)}`, `choose another name, e.g. '${name}_1' or 'my_${name}'`);
        continue;
      }
      if (decl.parent !== null && EXTENDS[word] === undefined) {
        sink.error('MT0311', decl.parent.span, `${ARTICLE[word]} cannot extend another declaration`, `only experiments, families, schedules, architectures, samplings and augmentation profiles extend; copy the fields of '${decl.parent.text}' instead`);
      }
      declare({ kind: word, name, file: file.path, decl }, decl.name.span);
    }
  }

  const visibility = new Map<string, Set<string>>(files.map((f) => [f.path, visibleFiles(program, f.path)]));
  const visibleFrom = (file: string) => visibility.get(file) ?? new Set([file]);
  /** Resolves any kind of declaration visible from `file`; reports unknown (MT0201) and invisible (MT0208) names. */
  const lookup = (file: string, ref: NameValue, kind: DeclKind | null): Symbol | undefined => {
    const sym = checked.symbols.get(ref.name);
    const visible = visibleFrom(file);
    if (sym === undefined) {
      const sameKind = [...checked.symbols.values()].filter((s) => (kind === null || s.kind === kind) && visible.has(s.file)).map((s) => s.name);
      const s = closest(ref.name, sameKind);
      const what = kind ?? 'name';
      const hint = stdlibHint(program, ref.name, kind, s === null)
        ?? (s ? `did you mean '${s}'?` : sameKind.length > 0 ? `known ${what}s: ${sameKind.slice(0, 8).join(', ')}${sameKind.length > 8 ? ', ...' : ''}` : kind === null ? undefined : `no ${kind} is declared; declare one with: ${kind} ${ref.name} { ... }`);
      return sink.error('MT0201', ref.span, `unknown ${what} '${ref.name}'`, hint);
    }
    if (!visible.has(sym.file)) {
      return sink.error('MT0208', ref.span, `${sym.kind} '${ref.name}' is declared in ${sym.file}, which this file does not import`, `add: import "${importSpec(file, sym.file)}"`);
    }
    usage.use(file, sym);
    return sym;
  };
  const resolverFor = (file: string) => (ref: NameValue, kind: DeclKind, what: string): string | undefined => {
    const sym = checked.symbols.get(ref.name);
    if (sym !== undefined && sym.kind !== kind) {
      return sink.error('MT0302', ref.span, `'${ref.name}' is ${ARTICLE[sym.kind]}, but ${what} expects ${ARTICLE[kind]}`);
    }
    return lookup(file, ref, kind)?.name;
  };

  // Inheritance: `extends` chains, merged on demand (a parent of the declaration's own kind).
  const inheritance = new Inheritance(checked.symbols, sink, (child, kind) => {
    const p = child.decl.parent!;
    const ref: NameValue = { kind: 'name', name: p.text, span: p.span };
    const sym = checked.symbols.get(p.text);
    if (sym !== undefined && sym.kind !== kind) {
      return sink.error('MT0302', p.span, `'${p.text}' is ${ARTICLE[sym.kind]}; ${ARTICLE[child.kind]} can only extend ${ARTICLE[kind]}`);
    }
    return lookup(child.file, ref, kind);
  });

  // 2. Declarations that depend on nothing else (but what they extend).
  for (const sym of checked.symbols.values()) {
    const { decl, name } = sym;
    if (sym.kind in EXTENDS && sym.kind !== 'experiment' && sym.kind !== 'family') checked.blocks.set(name, inheritance.blockOf(sym));
    if (sym.kind === 'dataset') {
      const m = checkDataset(sink, decl, name);
      if (m) checked.datasets.set(name, m);
    } else if (sym.kind === 'architecture') {
      const m = checkArchitecture(sink, decl, name, inheritance.blockOf(sym));
      if (m) checked.architectures.set(name, m);
    } else if (sym.kind === 'schedule') {
      const m = checkSchedule(sink, decl, name, inheritance.blockOf(sym));
      if (m) checked.schedules.set(name, m);
    } else if (sym.kind === 'sampling') {
      const m = checkSampling(sink, decl, name, inheritance.blockOf(sym));
      if (m) checked.samplings.set(name, m);
    } else if (sym.kind === 'augmentation') {
      if (name === 'none') sink.error('MT0202', decl.name!.span, "'none' is the built-in empty augmentation profile", 'choose another name');
      else {
        const m = checkAugmentation(sink, decl, name, inheritance.blockOf(sym));
        if (m) checked.augmentations.set(name, m);
      }
    }
  }

  // 3. Class sets (they may include each other; loops are reported).
  const classsetState = new Map<string, 'busy' | 'done' | 'failed'>();
  const classContext = (file: string): ClassContext => ({
    datasets: checked.datasets,
    resolve: (ref) => lookup(file, ref, null),
    classset: (name, at) => checkClassSetNamed(name, at),
    visibleDatasets: () => [...checked.datasets.values()].filter((d) => visibleFrom(file).has(checked.symbols.get(d.spec.name)?.file ?? '')),
  });
  // References that close a loop of class sets (found below without recursion): reported there instead of followed.
  const loopEdges = new Set<NameValue>();
  const checkClassSetNamed = (name: string, at: NameValue | null) => {
    const state = classsetState.get(name);
    if (state === 'done') return checked.classsets.get(name);
    if (state === 'failed') return undefined;
    if (state === 'busy' || (at !== null && loopEdges.has(at))) {
      if (at !== null) sink.error('MT0407', at.span, `class set '${name}' includes itself, directly or through other class sets`, 'a class set cannot contain itself; list its classes instead');
      return undefined;
    }
    const sym = checked.symbols.get(name)!;
    classsetState.set(name, 'busy');
    const m = checkClassSet(sink, sym.decl, name, classContext(sym.file));
    classsetState.set(name, m ? 'done' : 'failed');
    if (m) checked.classsets.set(name, m);
    return m;
  };
  // Class sets are checked in dependency order, so that checking one never recurses into another
  // (a chain of class sets may be as long as the file).
  for (const name of classSetOrder(checked, loopEdges)) checkClassSetNamed(name, null);

  // 4. Experiments' inheritance and families.
  const bodies = new Map<string, Block | null>();
  const memberOverrides = program.memberOverrides ?? [];
  const applied = new Set<MemberOverride>();
  for (const sym of [...checked.symbols.values()]) {
    if (sym.kind !== 'family') continue;
    const block = inheritance.blockOf(sym);
    const names: string[] = [];
    for (const expanded of expandFamily(sink, sym, block)) {
      const mine = memberOverrides.filter((o) => o.experiment === expanded.name);
      mine.forEach((o) => applied.add(o));
      const x = mine.length === 0 ? expanded : { ...expanded, block: applyMemberOverrides(expanded.block, mine, checked, sink) };
      const decl: Declaration = { kind: { text: 'experiment', span: sym.decl.kind.span }, name: { text: x.name, span: sym.decl.name!.span }, parent: null, body: x.block, span: sym.decl.span };
      const before = checked.symbols.get(x.name);
      declare({ kind: 'experiment', name: x.name, file: sym.file, decl, family: sym.name }, sym.decl.name!.span);
      if (before === undefined) {
        names.push(x.name);
        bodies.set(x.name, x.block);
      }
    }
    checked.families.set(sym.name, names);
  }
  for (const o of memberOverrides) {
    if (!applied.has(o)) sink.error('MT0006', o.span, `--set: family '${o.family}' no longer expands to '${o.experiment}' once the other overrides are applied`, `name one of its experiments: ${(checked.families.get(o.family) ?? []).slice(0, 4).join(', ')}`);
  }
  for (const sym of checked.symbols.values()) {
    if (sym.kind !== 'experiment' || sym.family !== undefined) continue;
    const block = inheritance.blockOf(sym);
    bodies.set(sym.name, block);
    for (const e of sym.decl.body?.entries ?? []) {
      if (eachValues(e) !== null) sink.error('MT0311', e.value!.span, `each(...) varies a field over several values; it belongs in a family, not in experiment '${sym.name}'`, `write: family ${sym.name}s ${sym.decl.parent ? `extends ${sym.decl.parent.text} ` : ''}{ ${e.key.text} each(...) }`);
    }
  }

  // 5. Experiments.
  for (const sym of checked.symbols.values()) {
    if (sym.kind !== 'experiment') continue;
    const ctx: ExperimentContext = {
      resolve: resolverFor(sym.file),
      classes: classContext(sym.file),
      samplings: checked.samplings,
      augmentations: checked.augmentations,
      isDeclared: (n, kind) => checked.symbols.get(n)?.kind === kind,
      inStdlib: (n, kind) => program.stdlib?.get(n)?.kind === kind,
    };
    const m = checkExperiment(sink, sym.decl, bodies.get(sym.name) ?? null, sym.name, sym.file, ctx, sym.family ?? null);
    if (m) checked.experiments.set(sym.name, m);
    checked.blocks.set(sym.name, bodies.get(sym.name) ?? null);
  }

  // 6. Rules across declarations.
  checkChains(checked, sink);
  // Usage is only meaningful when every reference resolved.
  if (!sink.items.some((d) => d.severity === 'error') && !program.diagnostics.some((d) => d.severity === 'error')) checkUnused(program, checked, usage, sink);
  return checked;
}

/** The class sets a class set's items name (dotless names that are class sets), in order. */
function classSetRefs(checked: CheckedProgram, decl: Declaration): NameValue[] {
  const out: NameValue[] = [];
  for (const e of decl.body?.entries ?? []) {
    if (e.key.text !== 'classes' && e.key.text !== 'exclude') continue;
    const items = e.value === null ? [] : e.value.kind === 'list' ? e.value.items : [e.value];
    for (const it of items) if (it.kind === 'name' && !it.name.includes('.') && checked.symbols.get(it.name)?.kind === 'classset') out.push(it);
  }
  return out;
}

/**
 * Class sets in dependency order (an iterative depth-first post-order), in declaration order
 * otherwise. A reference back to a class set still being visited closes a loop: it goes into
 * `loopEdges`, where the check reports it (MT0407) instead of following it.
 */
function classSetOrder(checked: CheckedProgram, loopEdges: Set<NameValue>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'open' | 'closed'>();
  for (const root of checked.symbols.values()) {
    if (root.kind !== 'classset' || state.has(root.name)) continue;
    const stack: Array<{ name: string; refs: NameValue[]; next: number }> = [{ name: root.name, refs: classSetRefs(checked, root.decl), next: 0 }];
    state.set(root.name, 'open');
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next === top.refs.length) {
        stack.pop();
        state.set(top.name, 'closed');
        order.push(top.name);
        continue;
      }
      const ref = top.refs[top.next++];
      const s = state.get(ref.name);
      if (s === 'open') loopEdges.add(ref);
      else if (s === undefined) {
        state.set(ref.name, 'open');
        stack.push({ name: ref.name, refs: classSetRefs(checked, checked.symbols.get(ref.name)!.decl), next: 0 });
      }
    }
  }
  return order;
}

/** A family expansion's block with its `--set` overrides (a copy: expansions share their entries). */
function applyMemberOverrides(block: Block, overrides: readonly MemberOverride[], checked: CheckedProgram, sink: DiagnosticSink): Block {
  const copy = structuredClone(block);
  for (const o of overrides) {
    const problem = setField(copy, o.fields, o.entry, {
      name: o.name,
      owner: `experiment '${o.experiment}' (of family '${o.family}')`,
      valueText: o.valueText,
      isDeclaration: (n) => checked.symbols.has(n),
    });
    if (problem !== null) sink.error('MT0006', o.span, `--set: ${problem.message}`, problem.hint);
  }
  return copy;
}

/**
 * The hint for a name the program does not declare but the stdlib does: the import to add. With
 * `fuzzy`, a misspelling of a stdlib name of the expected kind is answered too.
 */
export function stdlibHint(program: Program, name: string, kind: DeclKind | null, fuzzy: boolean): string | undefined {
  const index = program.stdlib;
  if (index === undefined) return undefined;
  const exact = index.get(name);
  if (exact !== undefined && (kind === null || exact.kind === kind)) {
    return `${exact.kind} '${name}' is in the standard library: add import "${exact.module}"`;
  }
  if (!fuzzy || kind === null) return undefined;
  const near = closest(name, [...index].filter(([, d]) => d.kind === kind).map(([n]) => n));
  if (near === null) return undefined;
  return `did you mean '${near}'? It is in the standard library: add import "${index.get(near)!.module}"`;
}

/** How `from` imports `target` (both display paths): `std/NAME` for the stdlib, else a path relative to `from`'s folder. */
export function importSpec(from: string, target: string): string {
  if (target.startsWith('std/')) return target.replace(/\.mt$/, '');
  const rel = posix.relative(posix.dirname(from.split('\\').join('/')), target.split('\\').join('/'));
  return rel === '' ? target : rel;
}

/** The pre-training chain of an experiment, root first; null if it loops. */
export function chainOf(checked: CheckedProgram, name: string): ExperimentModel[] | null {
  const chain: ExperimentModel[] = [];
  const seen = new Set<string>();
  let cur: string | null = name;
  while (cur !== null) {
    if (seen.has(cur)) return null;
    seen.add(cur);
    const e = checked.experiments.get(cur);
    if (e === undefined) return chain.reverse();
    chain.push(e);
    cur = e.pretrained;
  }
  return chain.reverse();
}

function topologyKey(a: ArchitectureSpec): string {
  return JSON.stringify([a.kind, a.patch, a.features, a.strides, a.kernels, a.blocksPerStage, a.convsPerStage, a.deepSupervision, a.swin]);
}

const sameVec = (a: Vec3, b: Vec3) => a.every((v, i) => v === b[i]);

function reportLoop(checked: CheckedProgram, e: ExperimentModel, sink: DiagnosticSink, reported: Set<string>): void {
  const loop: string[] = [];
  let cur: string | null = e.name;
  while (cur !== null && !loop.includes(cur)) {
    loop.push(cur);
    cur = checked.experiments.get(cur)?.pretrained ?? null;
  }
  const key = [...loop].sort().join(',');
  if (reported.has(key)) return;
  reported.add(key);
  sink.error('MT0403', e.pretrainedSpan ?? e.span, `pre-training loops: ${[...loop, cur ?? ''].join(' -> ')}`, 'the first experiment of a chain trains from scratch (no pretrained)');
}

/** Resolves the root's architecture at its effective patch and spacing. */
function resolveRoot(checked: CheckedProgram, root: ExperimentModel, sink: DiagnosticSink): { arch: ArchitectureSpec; spacing: Vec3 } | undefined {
  if (root.architecture === null) return undefined;
  const model = checked.architectures.get(root.architecture);
  if (model === undefined) return undefined;
  const spacing = root.spacing ?? model.spacing;
  if (spacing === null) {
    sink.error('MT0304', root.span, `experiment '${root.name}' is missing 'spacing' (its architecture '${model.name}' declares none)`, 'add: spacing [1.5, 1, 1]   (mm [z, y, x]), here or in the architecture');
    return undefined;
  }
  const patch = root.patch ?? model.patch;
  const owner = `experiment '${root.name}'`;
  const span = root.patchSpan ?? root.spacingSpan ?? root.architectureSpan ?? root.span;
  const same = (root.patch === null || sameVec(root.patch, model.patch)) && model.spacing !== null && sameVec(spacing, model.spacing);
  const arch = same ? model.spec : instantiate(sink, model, patch, spacing, { owner, patch: span, patchItems: null });
  if (arch === undefined) return undefined;
  return { arch: { ...arch, spacing: [...spacing] }, spacing };
}

function checkChains(checked: CheckedProgram, sink: DiagnosticSink): void {
  const reportedCycles = new Set<string>();
  for (const e of checked.experiments.values()) {
    const chain = chainOf(checked, e.name);
    if (chain === null) {
      reportLoop(checked, e, sink, reportedCycles);
      continue;
    }
    const root = chain[0];
    if (e !== root) continue;
    // Resolve each chain once from its root; the links below inherit its architecture and spacing.
    const resolved = resolveRoot(checked, root, sink);
    if (resolved === undefined) continue;
    checked.resolvedArchitectures.set(root.name, resolved.arch);
    checked.resolvedSpacing.set(root.name, resolved.spacing);
  }
  for (const e of checked.experiments.values()) {
    if (e.pretrained === null) continue;
    const chain = chainOf(checked, e.name);
    if (chain === null) continue;
    const root = chain[0];
    const arch = checked.resolvedArchitectures.get(root.name);
    const spacing = checked.resolvedSpacing.get(root.name);
    if (arch === undefined || spacing === undefined) continue;
    const parent = chain[chain.length - 2];
    if (e.architecture !== null) {
      const own = checked.architectures.get(e.architecture);
      const ownAt = own ? instantiate(new DiagnosticSink(), own, e.patch ?? own.patch, spacing, { owner: '', patch: e.span, patchItems: null }) : undefined;
      if (own !== undefined && (ownAt === undefined || topologyKey(ownAt) !== topologyKey(arch))) {
        sink.error('MT0405', e.architectureSpan ?? e.span, `experiment '${e.name}' uses architecture '${own.name}', which differs from '${arch.name}' of '${root.name}' that it fine-tunes`, "the backbone is copied by name and shape: leave out 'architecture' to reuse the pre-trained one");
        continue;
      }
    }
    if (e.patch !== null && !sameVec(e.patch, arch.patch)) {
      sink.error('MT0405', e.patchSpan ?? e.span, `experiment '${e.name}' uses patch [${e.patch.join(', ')}], but '${root.name}' that it fine-tunes was trained with [${arch.patch.join(', ')}]`, "fine-tuning keeps the source configuration: leave out 'patch'");
      continue;
    }
    if (e.spacing !== null && !sameVec(e.spacing, spacing)) {
      sink.error('MT0402', e.spacingSpan ?? e.span, `experiment '${e.name}' uses spacing [${e.spacing.join(', ')}], but '${root.name}' that it builds on uses [${spacing.join(', ')}]`, "fine-tuning keeps the source configuration: leave out 'spacing' or make it equal");
      continue;
    }
    checked.resolvedArchitectures.set(e.name, arch);
    checked.resolvedSpacing.set(e.name, spacing);
    const before = new Set(chain.slice(0, -1).flatMap((l) => l.datasets));
    const leaked = e.datasets.filter((d) => before.has(d));
    if (leaked.length > 0 && !e.allowLeakage) {
      sink.error('MT0404', e.pretrainedSpan ?? e.span, `fine-tuning leakage: ${leaked.map((d) => `'${d}'`).join(', ')} of '${e.name}' ${leaked.length === 1 ? 'was' : 'were'} already used to pre-train '${parent.name}'`, `MultiTalent excludes transfer targets from pre-training: pre-train on an experiment that excludes them (experiment x extends ${root.name} { exclude [${leaked.join(', ')}] }), or write allow_leakage true`);
    }
  }
  for (const e of checked.experiments.values()) {
    const withCases = e.datasets.filter((d) => checked.datasets.get(d)?.cases !== null && checked.datasets.has(d));
    if (withCases.length > 0 && withCases.length < e.datasets.length && e.sampling.kind !== 'uniform') {
      const missing = e.datasets.filter((d) => !withCases.includes(d));
      sink.warning('MT0406', e.span, `datasets ${missing.map((d) => `'${d}'`).join(', ')} of '${e.name}' declare no 'cases', so the sampling shares shown in the graph treat all datasets as equally large`, "add 'cases N' to every dataset (the runtime recomputes the shares from the data anyway)");
    }
  }
}
