/** A loaded program: the entry file, every file it imports (transitively), and their ASTs. */
import type { FileAst } from './ast.js';
import type { Diagnostic } from './diagnostics.js';

export interface ResolvedImport {
  /** The import's spec as written. */
  spec: string;
  /** Display path of the imported file, or null when it could not be loaded. */
  target: string | null;
}

export interface SourceFile {
  /** The path as shown to users: the entry as given, imports joined to their importer's folder, `std/NAME.mt` for the stdlib. */
  path: string;
  /** Absolute path on disk (identity for cycle detection); equals `path` for in-memory sources. */
  absolutePath: string;
  text: string;
  ast: FileAst;
  imports: ResolvedImport[];
}

export interface Program {
  /** Display path of the entry file. */
  entry: string;
  /** Files in load order (entry first). */
  files: Map<string, SourceFile>;
  /** Path -> text, for rendering diagnostics. */
  sources: Map<string, string>;
  /** Read, import and syntax diagnostics. */
  diagnostics: Diagnostic[];
}
