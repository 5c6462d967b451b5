/**
 * The checker: builds the symbol table of a loaded program, checks every declaration, and applies
 * the rules that span several declarations (pre-training chains, shared spacing). Pure.
 */
import type { ArchitectureSpec, Vec3 } from '../../graph/types.js';
import type { NameValue } from '../ast.js';
import { DiagnosticSink } from '../diagnostics.js';
import { DECLARATION_WORDS, RESERVED_WORDS } from '../grammar/tokens.js';
import type { Program, SourceFile } from '../program.js';
import { closest } from '../suggest.js';
import { checkArchitecture } from './architectures.js';
import { checkDataset } from './datasets.js';
import { checkExperiment } from './experiments.js';
import type { CheckedProgram, DeclKind, ExperimentModel, Symbol } from './model.js';
import { checkSchedule } from './schedules.js';

const KIND_ARTICLE: Record<DeclKind, string> = { dataset: 'a dataset', architecture: 'an architecture', schedule: 'a schedule', experiment: 'an experiment' };

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

export function checkLoadedProgram(program: Program, sink: DiagnosticSink): CheckedProgram {
  const checked: CheckedProgram = {
    symbols: new Map(),
    datasets: new Map(),
    architectures: new Map(),
    schedules: new Map(),
    experiments: new Map(),
  };
  const files: SourceFile[] = [...program.files.values()];

  // 1. Symbols.
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
        sink.error('MT0105', decl.name.span, `'${name}' is a reserved word and cannot name a ${word}`, `choose another name, e.g. '${name}_1' or 'my_${name}'`);
        continue;
      }
      const prior = checked.symbols.get(name);
      if (prior) {
        const p = prior.decl.name!.span;
        sink.error('MT0202', decl.name.span, `'${name}' is already declared as ${KIND_ARTICLE[prior.kind]} at ${p.file}:${p.start.line}:${p.start.column}`, 'names are shared by all declarations of a program; rename one of them');
        continue;
      }
      checked.symbols.set(name, { kind: word, name, file: file.path, decl });
    }
  }

  const visibility = new Map<string, Set<string>>(files.map((f) => [f.path, visibleFiles(program, f.path)]));
  const resolverFor = (file: string) => (ref: NameValue, kind: DeclKind, what: string): string | undefined => {
    const sym = checked.symbols.get(ref.name);
    const visible = visibility.get(file) ?? new Set([file]);
    if (sym === undefined) {
      const sameKind = [...checked.symbols.values()].filter((s) => s.kind === kind && visible.has(s.file)).map((s) => s.name);
      const s = closest(ref.name, sameKind);
      return sink.error('MT0201', ref.span, `unknown ${kind} '${ref.name}'`, s ? `did you mean '${s}'?` : sameKind.length > 0 ? `known ${kind}s: ${sameKind.slice(0, 8).join(', ')}` : `no ${kind} is declared; declare one with: ${kind} ${ref.name} { ... }`);
    }
    if (sym.kind !== kind) {
      return sink.error('MT0302', ref.span, `'${ref.name}' is ${KIND_ARTICLE[sym.kind]}, but ${what} expects ${KIND_ARTICLE[kind]}`);
    }
    if (!visible.has(sym.file)) {
      return sink.error('MT0208', ref.span, `${kind} '${ref.name}' is declared in ${sym.file}, which this file does not import`, `add: import "${sym.file}"`);
    }
    return sym.name;
  };

  // 2. Declarations.
  for (const sym of checked.symbols.values()) {
    const { decl, name } = sym;
    switch (sym.kind) {
      case 'dataset': {
        const m = checkDataset(sink, decl, name);
        if (m) checked.datasets.set(name, m);
        break;
      }
      case 'architecture': {
        const m = checkArchitecture(sink, decl, name);
        if (m) checked.architectures.set(name, m);
        break;
      }
      case 'schedule': {
        const m = checkSchedule(sink, decl, name);
        if (m) checked.schedules.set(name, m);
        break;
      }
      case 'experiment': {
        const m = checkExperiment(sink, decl, name, sym.file, resolverFor(sym.file));
        if (m) checked.experiments.set(name, m);
        break;
      }
    }
  }

  // 3. Rules across declarations.
  checkChains(checked, sink);
  return checked;
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

function sameArchitecture(a: ArchitectureSpec, b: ArchitectureSpec): boolean {
  return JSON.stringify([a.kind, a.patch, a.features, a.strides, a.convsPerStage]) === JSON.stringify([b.kind, b.patch, b.features, b.strides, b.convsPerStage]);
}

const sameVec = (a: Vec3, b: Vec3) => a.every((v, i) => v === b[i]);

function checkChains(checked: CheckedProgram, sink: DiagnosticSink): void {
  const reportedCycles = new Set<string>();
  for (const e of checked.experiments.values()) {
    if (e.pretrained === null || e.pretrained === e.name) continue;
    const chain = chainOf(checked, e.name);
    if (chain === null) {
      // Walk the loop to name it once.
      const loop: string[] = [];
      let cur: string | null = e.name;
      while (cur !== null && !loop.includes(cur)) {
        loop.push(cur);
        cur = checked.experiments.get(cur)?.pretrained ?? null;
      }
      const key = [...loop].sort().join(',');
      if (!reportedCycles.has(key)) {
        reportedCycles.add(key);
        sink.error('MT0403', e.pretrainedSpan ?? e.span, `pre-training loops: ${[...loop, cur ?? ''].join(' -> ')}`, 'the first experiment of a chain trains from scratch (no pretrained)');
      }
      continue;
    }
    // Effective configuration inherited down the chain.
    let arch: ArchitectureSpec | undefined;
    let archFrom = '';
    let spacing: Vec3 | null = null;
    let spacingFrom = '';
    const before = new Set<string>();
    for (const link of chain) {
      const own = link.architecture !== null ? checked.architectures.get(link.architecture) : undefined;
      if (own !== undefined) {
        if (arch !== undefined && !sameArchitecture(arch, own) && link.name === e.name) {
          sink.error('MT0405', link.architectureSpan ?? link.span, `experiment '${link.name}' uses architecture '${own.name}', which differs from '${arch.name}' of '${archFrom}' that it fine-tunes`, 'the backbone is copied by name and shape: leave out \'architecture\' to reuse the pre-trained one');
        }
        if (arch === undefined) {
          arch = own;
          archFrom = link.name;
        }
      }
      if (link.spacing !== null) {
        if (spacing !== null && !sameVec(spacing, link.spacing) && link.name === e.name) {
          sink.error('MT0402', link.spacingSpan ?? link.span, `experiment '${link.name}' uses spacing [${link.spacing.join(', ')}], but '${spacingFrom}' that it builds on uses [${spacing.join(', ')}]`, 'fine-tuning keeps the source configuration: leave out \'spacing\' or make it equal');
        }
        if (spacing === null) {
          spacing = link.spacing;
          spacingFrom = link.name;
        }
      }
      if (link.name === e.name) {
        for (const d of e.datasets) {
          if (before.has(d)) {
            sink.warning('MT0404', e.span, `dataset '${d}' is fine-tuned on by '${e.name}' but was already used in its pre-training`, 'MultiTalent excludes transfer targets from pre-training; remove it from the pre-training datasets');
          }
        }
      }
      for (const d of link.datasets) before.add(d);
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
