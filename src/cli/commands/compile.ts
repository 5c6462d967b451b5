import { stringify as toYaml } from 'yaml';
import { applyOverrides, compileProgram, hasErrors, loadProgram, renderDiagnostics, summarize } from '../../compiler/index.js';
import type { RuntimeGraph } from '../../graph/types.js';
import { argPath, UserError, type CliIO } from '../io.js';

export interface CompileOptions {
  experiment?: string;
  /** `--set PATH=VALUE` overrides, type-checked like source. */
  set?: string[];
}

/** Loads, applies --set overrides, checks and lowers one file; prints diagnostics and throws a UserError on errors. */
export async function compileFile(file: string, options: CompileOptions, io: CliIO): Promise<{ graph: RuntimeGraph; sources: Map<string, string> }> {
  const loaded = await loadProgram(argPath(io, file));
  const { program, diagnostics: setDiagnostics } = applyOverrides(loaded, options.set ?? [], options.experiment);
  const { graph, diagnostics: compiled } = compileProgram(program, { experiment: options.experiment });
  const diagnostics = [...setDiagnostics, ...compiled];
  // With errors, the UserError below carries the summary ("not compiled (2 errors)"): printed once.
  if (diagnostics.length > 0) io.err(`${renderDiagnostics(diagnostics, program, { color: io.isTTY, summary: !hasErrors(diagnostics) })}${hasErrors(diagnostics) ? '\n' : ''}`);
  if (hasErrors(diagnostics) || !graph) {
    throw new UserError(`${file}: not compiled (${summarize(diagnostics)})`);
  }
  return { graph, sources: loaded.sources };
}

/** `mtc compile FILE [--set PATH=VALUE]…`: prints the validated runtime graph. */
export async function compileCommand(file: string, options: CompileOptions & { format: 'yaml' | 'json' }, io: CliIO): Promise<number> {
  const { graph } = await compileFile(file, options, io);
  io.out(options.format === 'json' ? JSON.stringify(graph, null, 2) : toYaml(graph));
  return 0;
}
