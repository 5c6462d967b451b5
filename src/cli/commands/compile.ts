import { stringify as toYaml } from 'yaml';
import { applyOverrides, compileProgram, hasErrors, listExperiments, loadProgram, renderDiagnostics, summarize, type Program } from '../../compiler/index.js';
import type { RuntimeGraph } from '../../graph/types.js';
import { isGlob } from '../../graph/glob.js';
import { argPath, UserError, type CliIO } from '../io.js';

export interface CompileOptions {
  /** `-e`: experiment names, family names or globs (repeatable). */
  experiment?: string | string[];
  /** `--all`: every experiment of the file, family expansions included. */
  all?: boolean;
  /** `--set PATH=VALUE` overrides, type-checked like source. */
  set?: string[];
}

function patternsOf(options: CompileOptions): string[] {
  return options.experiment === undefined ? [] : Array.isArray(options.experiment) ? options.experiment : [options.experiment];
}

/**
 * Loads, applies --set overrides, checks and lowers one file; prints diagnostics and throws a
 * UserError on errors. Returns the graph and the program as compiled (overrides applied).
 */
export async function compileFile(file: string, options: CompileOptions, io: CliIO): Promise<{ graph: RuntimeGraph; sources: Map<string, string>; program: Program }> {
  const loaded = await loadProgram(argPath(io, file));
  const patterns = patternsOf(options);
  // Bare `--set FIELD=...` applies to the experiment -e names, when it names exactly one.
  const main = patterns.length === 1 && !isGlob(patterns[0]) ? patterns[0] : undefined;
  const { program, diagnostics: setDiagnostics } = applyOverrides(loaded, options.set ?? [], main);
  const { graph, diagnostics: compiled } = compileProgram(program, { experiments: patterns, all: options.all });
  const diagnostics = [...setDiagnostics, ...compiled];
  // With errors, the UserError below carries the summary ("not compiled (2 errors)"): printed once.
  if (diagnostics.length > 0) io.err(`${renderDiagnostics(diagnostics, program, { color: io.isTTY, summary: !hasErrors(diagnostics) })}${hasErrors(diagnostics) ? '\n' : ''}`);
  if (hasErrors(diagnostics) || !graph) {
    throw new UserError(`${file}: not compiled (${summarize(diagnostics)})`);
  }
  return { graph, sources: loaded.sources, program };
}

/** `mtc compile FILE [-e NAME]… [--all] [--set PATH=VALUE]… [--list]`: prints the validated runtime graph, or the file's experiments. */
export async function compileCommand(file: string, options: CompileOptions & { format: 'yaml' | 'json'; list?: boolean }, io: CliIO): Promise<number> {
  if (options.list) return listCommand(file, options, io);
  const { graph } = await compileFile(file, options, io);
  io.out(options.format === 'json' ? JSON.stringify(graph, null, 2) : toYaml(graph));
  return 0;
}

/** `mtc compile FILE --list`: the file's experiments, family expansions included, one per line. */
async function listCommand(file: string, options: { format: 'yaml' | 'json' }, io: CliIO): Promise<number> {
  const program = await loadProgram(argPath(io, file));
  const { experiments, diagnostics } = listExperiments(program);
  if (hasErrors(diagnostics)) {
    io.err(`${renderDiagnostics(diagnostics, program, { color: io.isTTY, summary: false })}\n`);
    throw new UserError(`${file}: not compiled (${summarize(diagnostics)})`);
  }
  if (options.format === 'json') {
    io.out(JSON.stringify(experiments, null, 2));
    return 0;
  }
  if (experiments.length === 0) {
    io.out(`${file} declares no experiment`);
    return 0;
  }
  const width = Math.max(...experiments.map((e) => e.name.length));
  for (const e of experiments) {
    const notes = [e.family ? `family ${e.family}` : '', e.pretrained ? `fine-tunes ${e.pretrained}` : ''].filter(Boolean);
    io.out(`${e.name.padEnd(width)}${notes.length > 0 ? `  (${notes.join(', ')})` : ''}`.trimEnd());
  }
  const families = [...new Set(experiments.map((e) => e.family).filter((f): f is string => f !== null))];
  io.out(`${experiments.length} experiment${experiments.length === 1 ? '' : 's'}${families.length > 0 ? `; -e ${families[0]} selects all of family ${families[0]}` : ''}; the last one is the default of mtc run`);
  return 0;
}
