/** A loaded program: the entry file, every file it imports (transitively), and their ASTs. */
import type { Entry, FileAst } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import type { Span } from './source.js';

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

/** A declaration of the standard library, for "add: import ..." hints on names a program lacks. */
export interface StdlibDeclaration {
  /** The declaration kind word: `schedule`, `dataset`, ... */
  kind: string;
  /** The module that declares it, as an import spec: `std/schedules`, `std/datasets/msd`. */
  module: string;
}

/** A `--set` override of one experiment of a family, applied by the checker to that expansion. */
export interface MemberOverride {
  /** The expansion's name, e.g. `baselines_kits19_multitalent_unet_fold0`. */
  experiment: string;
  family: string;
  /** The path below the experiment: `['batch']`, `['evaluation', 'tta']`. */
  fields: string[];
  /** The field to set (spans in the `--set` pseudo-file). */
  entry: Entry;
  /** The experiment's name as the override wrote it, or null for a bare FIELD. */
  name: string | null;
  valueText: string;
  /** The override's PATH, for diagnostics. */
  span: Span;
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
  /** Every declaration of the stdlib by name (whether imported or not); absent when not indexed. */
  stdlib?: ReadonlyMap<string, StdlibDeclaration>;
  /** `--set` overrides of experiments that a family expands into (see applyOverrides). */
  memberOverrides?: MemberOverride[];
}
