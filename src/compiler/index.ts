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
import type { Program } from './program.js';
import { spanAt } from './source.js';
import { closest } from './suggest.js';
import { withArticle } from './words.js';

export type { Diagnostic, DiagnosticCode, Severity } from './diagnostics.js';
export { DIAGNOSTIC_CODES, hasErrors, diagnosticToJson, type DiagnosticJson } from './diagnostics.js';
export { formatSource, type FormatResult } from './format.js';
export { renderGraph, stageSummary, type GraphFormat } from './graph-render.js';
export { applyOverrides, OVERRIDE_FILE, type OverrideResult } from './overrides.js';
export { explain, EXPLANATIONS, type Explanation } from './explain.js';
export type { Program, SourceFile } from './program.js';
export type { Span, Position } from './source.js';
export { loadProgram, loadProgramWith, memoryHost, nodeHost, type LoaderHost } from './loader.js';
export { renderDiagnostics, renderDiagnostic, summarize } from './render.js';
export { parseSource } from './parse.js';
export { mtParser, serializedGrammar } from './grammar/parser.js';
export { mtLexer } from './grammar/tokens.js';
export { samplingShares } from './lower.js';
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


export interface CompileOptions {
  /** The experiment to run; default: the last experiment declared in the entry file. */
  experiment?: string;
}

/**
 * Checks the program and lowers its main experiment to a validated RuntimeGraph. The graph is null
 * whenever any error was reported (warnings do not block it).
 */
export function compileProgram(program: Program, options: CompileOptions = {}): { graph: RuntimeGraph | null; diagnostics: Diagnostic[] } {
  const { checked, diagnostics } = checkAll(program);
  const sink = new DiagnosticSink();
  const entryText = program.sources.get(program.entry) ?? '';
  const here = spanAt(program.entry, entryText, 0, 0);
  let main: string | undefined;
  if (options.experiment !== undefined) {
    const sym = checked.symbols.get(options.experiment);
    if (sym === undefined || sym.kind !== 'experiment') {
      const all = [...checked.symbols.values()].filter((s) => s.kind === 'experiment').map((s) => s.name);
      const s = closest(options.experiment, all);
      sink.error('MT0207', here, sym === undefined ? `no experiment named '${options.experiment}' in ${program.entry} or its imports` : `'${options.experiment}' is ${withArticle(sym.kind)}, not an experiment`, s ? `did you mean '${s}'?` : all.length > 0 ? `experiments: ${all.join(', ')}` : undefined);
    } else main = sym.name;
  } else if (program.files.has(program.entry)) {
    const names = experimentsIn(program, program.entry, checked.families);
    if (names.length === 0) sink.error('MT0401', here, `${program.entry} declares no experiment to compile`, 'add an experiment { ... } to this file, or name one of its imported experiments explicitly');
    else main = names[names.length - 1];
  }
  const all = sorted(program, [...diagnostics, ...sink.items]);
  if (main === undefined || hasErrors(all)) return { graph: null, diagnostics: all };
  try {
    const graph = validateGraph(lower(checked, main, program.entry));
    return { graph, diagnostics: all };
  } catch (e) {
    const problems = e instanceof GraphValidationError ? e.problems.join('; ') : e instanceof Error ? e.message : String(e);
    sink.error('MT0901', here, `internal compiler error while building the graph for '${main}': ${problems}`, 'this is a bug in mtc; please report it with the .mt file');
    return { graph: null, diagnostics: sorted(program, [...diagnostics, ...sink.items]) };
  }
}
