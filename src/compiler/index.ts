/**
 * The `.mt` compiler's public API.
 *
 *   const program = await loadProgram('experiments/quickstart.mt');   // the only I/O
 *   const { graph, diagnostics } = compileProgram(program);            // pure
 *   process.stderr.write(renderDiagnostics(diagnostics, program, { color: true }));
 *   if (hasErrors(diagnostics)) process.exitCode = 1;
 */
import { validateGraph, GraphValidationError, type RuntimeGraph } from '../graph/index.js';
import { checkLoadedProgram } from './check/checker.js';
import type { CheckedProgram } from './check/model.js';
import { dedupeDiagnostics, DiagnosticSink, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { lower } from './lower.js';
import { resolvedSource } from './resolved.js';
import { experimentsOfFile, selectExperiments, type ExperimentListing } from './select.js';
import type { Program } from './program.js';
import { spanAt } from './source.js';

export type { Diagnostic, DiagnosticCode, Severity } from './diagnostics.js';
export { DIAGNOSTIC_CODES, hasErrors, diagnosticToJson, type DiagnosticJson } from './diagnostics.js';
export { formatSource, type FormatResult } from './format.js';
export { renderGraph, stageSummary, edgeLabel, type GraphFormat } from './graph-render.js';
export { printValue } from './resolved.js';
export { applyOverrides, OVERRIDE_FILE, type OverrideResult } from './overrides.js';
export { explain, EXPLANATIONS, type Explanation } from './explain.js';
export type { Program, SourceFile } from './program.js';
export type { Span, Position } from './source.js';
export { loadProgram, loadProgramWith, memoryHost, nodeHost, type LoaderHost } from './loader.js';
export { renderDiagnostics, renderDiagnostic, summarize } from './render.js';
export { parseSource } from './parse.js';
export { mtParser, serializedGrammar } from './grammar/parser.js';
export { mtLexer } from './grammar/tokens.js';
export { samplingShares, SPLIT } from './lower.js';
export { experimentsOfFile, experimentsOfProgram, selectExperiments, type ExperimentListing, type Selection } from './select.js';
export { deriveStrides, deriveTopology, defaultFeatures } from './check/topology.js';
export { stdlibDir, packageRoot } from './stdlib.js';
export type { CheckedProgram, DeclKind, Symbol as DeclarationSymbol } from './check/model.js';
export type * as Ast from './ast.js';
export { BLOCK_FIELDS, type BlockKind } from './check/fields.js';
export { BLOCK_DOCS, FIELD_DOCS, FIELD_VALUES, declarationBlockKind, nestedBlockKind, type FieldDoc, type FieldValue } from './field-docs.js';
export { DECLARATION_WORDS, RESERVED_WORDS } from './grammar/tokens.js';
export { MAX_NESTING } from './grammar/nesting.js';

interface Checked {
  checked: CheckedProgram;
  diagnostics: Diagnostic[];
}

function checkAll(program: Program): Checked {
  const sink = new DiagnosticSink();
  const checked = checkLoadedProgram(program, sink);
  return { checked, diagnostics: dedupeDiagnostics([...program.diagnostics, ...sink.items]) };
}

function sorted(program: Program, diagnostics: Diagnostic[]): Diagnostic[] {
  return sortDiagnostics(diagnostics, [...program.files.keys()]);
}

/** All load, syntax and semantic diagnostics of a program, sorted by file and position. */
export function checkProgram(program: Program): { diagnostics: Diagnostic[] } {
  return { diagnostics: sorted(program, checkAll(program).diagnostics) };
}

/**
 * checkProgram's diagnostics together with the checked program they came from (the symbol
 * table, every declaration as a typed model, resolved architectures and family expansions):
 * what tools such as the language server build on.
 */
export function analyzeProgram(program: Program): { checked: CheckedProgram; diagnostics: Diagnostic[] } {
  const { checked, diagnostics } = checkAll(program);
  return { checked, diagnostics: sorted(program, diagnostics) };
}

/** Names of the experiments declared in a file, in declaration order (a family's once checked: pass `families`). */
export function experimentsIn(program: Program, file: string, families: ReadonlyMap<string, string[]> = new Map()): string[] {
  return (program.files.get(file)?.ast.declarations ?? [])
    .filter((d) => (d.kind.text === 'experiment' || d.kind.text === 'family') && d.name !== null)
    .flatMap((d) => (d.kind.text === 'family' ? (families.get(d.name!.text) ?? []) : [d.name!.text]));
}

/** The experiments of the entry file, family expansions included, in declaration order (`mtc compile --list`). */
export function listExperiments(program: Program): { experiments: ExperimentListing[]; diagnostics: Diagnostic[] } {
  const { checked, diagnostics } = checkAll(program);
  return { experiments: experimentsOfFile(program, checked, program.entry), diagnostics: sorted(program, diagnostics) };
}

/**
 * resolved.mt of each experiment (see resolved.ts): its declarations, imports and --set overrides
 * inlined. The program must compile without errors. `header` gives each file's leading comment lines.
 */
export function resolvedSources(
  program: Program,
  experiments: readonly string[],
  header: (experiment: string) => string[] = () => [],
  checkpointPath?: (file: string, path: string) => string,
): Map<string, string> {
  const { checked } = checkAll(program);
  return new Map(experiments.map((e) => [e, resolvedSource(checked, e, header(e), checkpointPath)]));
}

export interface CompileOptions {
  /** One experiment to run (same as `experiments: [name]`); default: the last experiment declared in the entry file. */
  experiment?: string;
  /** Experiments to run: names, family names (all expansions) or globs; see select.ts. */
  experiments?: readonly string[];
  /** Every experiment of the entry file, family expansions included. */
  all?: boolean;
}

/**
 * Checks the program and lowers the selected experiments to one validated RuntimeGraph. The graph
 * is null whenever any error was reported (warnings do not block it).
 */
export function compileProgram(program: Program, options: CompileOptions = {}): { graph: RuntimeGraph | null; diagnostics: Diagnostic[] } {
  const { checked, diagnostics } = checkAll(program);
  const sink = new DiagnosticSink();
  const here = spanAt(program.entry, program.sources.get(program.entry) ?? '', 0, 0);
  const patterns = [...(options.experiment !== undefined ? [options.experiment] : []), ...(options.experiments ?? [])];
  const mains = program.files.has(program.entry) ? selectExperiments(program, checked, { all: options.all, patterns }, sink) : undefined;
  const all = sorted(program, [...diagnostics, ...sink.items]);
  if (mains === undefined || hasErrors(all)) return { graph: null, diagnostics: all };
  try {
    const graph = validateGraph(lower(checked, mains, program.entry));
    return { graph, diagnostics: all };
  } catch (e) {
    const problems = e instanceof GraphValidationError ? e.problems.join('; ') : e instanceof Error ? e.message : String(e);
    sink.error('MT0901', here, `internal compiler error while building the graph for ${mains.map((m) => `'${m}'`).join(', ')}: ${problems}`, 'this is a bug in mtc; please report it with the .mt file');
    return { graph: null, diagnostics: sorted(program, [...diagnostics, ...sink.items]) };
  }
}
