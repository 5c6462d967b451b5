/**
 * Unused imports and declarations (warnings). Only the entry file is judged, and only when it
 * declares an experiment or a family: a library file (the stdlib, shared dataset files) exists to
 * be imported, so its declarations are not "unused".
 */
import type { DiagnosticSink } from '../diagnostics.js';
import type { Program } from '../program.js';
import { visibleFiles } from './checker.js';
import type { CheckedProgram, Symbol } from './model.js';

export class Usage {
  readonly used = new Set<string>();
  /** File -> files whose declarations it references. */
  readonly filesUsedBy = new Map<string, Set<string>>();

  use(fromFile: string, sym: Symbol): void {
    this.used.add(sym.name);
    const set = this.filesUsedBy.get(fromFile) ?? new Set<string>();
    set.add(sym.file);
    this.filesUsedBy.set(fromFile, set);
  }
}

export function checkUnused(program: Program, checked: CheckedProgram, usage: Usage, sink: DiagnosticSink): void {
  const entry = program.files.get(program.entry);
  if (entry === undefined) return;
  const isLibrary = !entry.ast.declarations.some((d) => d.kind.text === 'experiment' || d.kind.text === 'family');
  if (isLibrary) return;
  const usedFiles = usage.filesUsedBy.get(entry.path) ?? new Set<string>();
  entry.ast.imports.forEach((imp, i) => {
    const target = entry.imports[i]?.target;
    if (target === null || target === undefined || target === entry.path) return;
    const reach = visibleFiles(program, target);
    if (![...usedFiles].some((f) => reach.has(f))) {
      sink.warning('MT0210', imp.span, `import "${imp.spec ?? ''}" is not used: nothing it declares (or imports) is referenced in ${entry.path}`, 'remove the import');
    }
  });
  for (const decl of entry.ast.declarations) {
    if (decl.name === null) continue;
    const sym = checked.symbols.get(decl.name.text);
    if (sym === undefined || sym.decl !== decl || sym.kind === 'experiment' || sym.kind === 'family') continue;
    if (!usage.used.has(sym.name)) {
      sink.warning('MT0211', decl.name.span, `${sym.kind} '${sym.name}' is declared but never used`, `remove it, or use it from an experiment`);
    }
  }
}
