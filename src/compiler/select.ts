/**
 * Which experiments a command works on: the last one of the entry file (the default), every one of
 * it (`--all`, family expansions included), or those named by `-e PATTERN` (repeatable): an
 * experiment's name, a family's name (all of its expansions) or a glob (`'baselines_*_fold0'`) over
 * every experiment of the program. Pure.
 */
import { globToRegExp, isGlob } from '../graph/glob.js';
import type { CheckedProgram } from './check/model.js';
import type { DiagnosticSink } from './diagnostics.js';
import type { Program } from './program.js';
import { spanAt } from './source.js';
import { closest } from './suggest.js';
import { withArticle } from './words.js';

export interface ExperimentListing {
  name: string;
  /** The file that declares it (its family's file for an expansion). */
  file: string;
  /** The family it was expanded from, or null. */
  family: string | null;
  /** The experiment it fine-tunes, or null. */
  pretrained: string | null;
}

export interface Selection {
  /** Every experiment of the entry file, family expansions included (`--all`). */
  all?: boolean;
  /** Names, family names or globs (`-e`). */
  patterns?: readonly string[];
}

/** Experiments declared in `file`, in declaration order, each family replaced by its expansions. */
export function experimentsOfFile(program: Program, checked: CheckedProgram, file: string): ExperimentListing[] {
  const out: ExperimentListing[] = [];
  for (const d of program.files.get(file)?.ast.declarations ?? []) {
    if (d.name === null) continue;
    const names = d.kind.text === 'family' ? (checked.families.get(d.name.text) ?? []) : d.kind.text === 'experiment' ? [d.name.text] : [];
    for (const name of names) {
      const e = checked.experiments.get(name);
      out.push({ name, file, family: d.kind.text === 'family' ? d.name.text : null, pretrained: e?.pretrained ?? null });
    }
  }
  return out;
}

/** Every experiment of the program: the entry file's first, then each imported file's, in load order. */
export function experimentsOfProgram(program: Program, checked: CheckedProgram): ExperimentListing[] {
  return [...program.files.keys()].flatMap((f) => experimentsOfFile(program, checked, f));
}

/**
 * The selected experiments in order (each once), or undefined after reporting why (MT0401 when the
 * entry file declares none, MT0207 for a pattern that selects nothing or names something else).
 */
export function selectExperiments(program: Program, checked: CheckedProgram, selection: Selection, sink: DiagnosticSink): string[] | undefined {
  const here = spanAt(program.entry, program.sources.get(program.entry) ?? '', 0, 0);
  const entry = experimentsOfFile(program, checked, program.entry);
  const patterns = selection.patterns ?? [];
  if (patterns.length === 0) {
    if (entry.length === 0) {
      sink.error('MT0401', here, `${program.entry} declares no experiment to compile`, 'add an experiment { ... } to this file, or name one of its imported experiments with -e');
      return undefined;
    }
    return selection.all ? entry.map((e) => e.name) : [entry[entry.length - 1].name];
  }
  const every = experimentsOfProgram(program, checked);
  const chosen: string[] = selection.all ? entry.map((e) => e.name) : [];
  let ok = true;
  for (const pattern of patterns) {
    let names: string[];
    if (isGlob(pattern)) {
      const re = globToRegExp(pattern);
      names = every.map((e) => e.name).filter((n) => re.test(n));
      if (names.length === 0) {
        sink.error('MT0207', here, `-e '${pattern}' matches no experiment of ${program.entry} or its imports`, every.length > 0 ? `experiments: ${summarise(every.map((e) => e.name))}` : undefined);
        ok = false;
      }
    } else {
      const sym = checked.symbols.get(pattern);
      if (sym?.kind === 'family') names = [...(checked.families.get(pattern) ?? [])];
      else if (sym?.kind === 'experiment') names = [pattern]; // one with errors is reported by the checker; nothing is lowered then
      else {
        const all = every.map((e) => e.name);
        const families = [...checked.families.keys()];
        const s = closest(pattern, [...all, ...families]);
        const what = sym === undefined ? `no experiment or family named '${pattern}' in ${program.entry} or its imports` : `'${pattern}' is ${withArticle(sym.kind)}, not an experiment`;
        sink.error('MT0207', here, what, s ? `did you mean '${s}'?` : all.length > 0 ? `experiments: ${summarise(all)}` : undefined);
        ok = false;
        names = [];
      }
    }
    for (const n of names) if (!chosen.includes(n)) chosen.push(n);
  }
  return ok ? chosen : undefined;
}

function summarise(names: readonly string[]): string {
  return names.length > 12 ? `${names.slice(0, 12).join(', ')}, ... (${names.length} in all; mtc compile FILE --list shows them)` : names.join(', ');
}
