/**
 * The server's view of the files: open documents (their unsaved text wins over the disk), and one
 * analysis per open document, made exactly as `mtc check FILE` makes it (loadProgram with the same
 * import and stdlib resolution, then the checker), cached until that document or any file its
 * program loaded changes.
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { analyzeProgram, loadProgramWith, nodeHost, type CheckedProgram, type Diagnostic, type LoaderHost, type Program } from '../compiler/index.js';
import { indexProgram, type FileIndex } from './index-ast.js';

export interface Analysis {
  uri: string;
  version: number;
  /** The entry's display path (the document's absolute path). */
  entry: string;
  program: Program;
  checked: CheckedProgram;
  /** Every diagnostic of `mtc check` on this file, in every file of its program. */
  diagnostics: Diagnostic[];
  /** Display path -> where its names, fields and imports are. */
  index: Map<string, FileIndex>;
  /** Absolute paths of every file the program loaded (to know whom to recheck when one changes). */
  files: Set<string>;
}

/** The absolute path a document URI stands for (documents that are not files get a stable stand-in). */
export function pathOfUri(uri: string): string {
  if (uri.startsWith('file:')) {
    try {
      return fileURLToPath(uri);
    } catch {
      // Not a local file URI (e.g. file://host/...): fall through to a stand-in.
    }
  }
  return resolve('/', '.mtc-documents', encodeURIComponent(uri));
}

export class Workspace {
  /** Open documents by URI. */
  private readonly open = new Map<string, TextDocument>();
  /** Absolute path -> URI of the open document that holds it. */
  private readonly byPath = new Map<string, string>();
  private readonly cache = new Map<string, { key: string; analysis: Analysis }>();
  /** Bumped by every change to any document or watched file: cached analyses of other versions are stale. */
  private generation = 0;

  constructor(private readonly disk: LoaderHost = nodeHost) {}

  /** The host the loader reads through: open documents first, then the disk. */
  readonly host: LoaderHost = {
    readFile: async (absolutePath) => {
      const uri = this.byPath.get(absolutePath);
      const doc = uri === undefined ? undefined : this.open.get(uri);
      return doc !== undefined ? { ok: true, text: doc.getText() } : this.disk.readFile(absolutePath);
    },
    get stdlibDir() {
      return nodeHost.stdlibDir;
    },
    stdModules: () => this.disk.stdModules(),
  };

  document(uri: string): TextDocument | undefined {
    return this.open.get(uri);
  }

  openDocuments(): TextDocument[] {
    return [...this.open.values()];
  }

  /** Opens or replaces a document (didOpen, didChange with its full new text). */
  set(doc: TextDocument): void {
    this.open.set(doc.uri, doc);
    this.byPath.set(pathOfUri(doc.uri), doc.uri);
    this.generation++;
  }

  close(uri: string): void {
    this.open.delete(uri);
    this.byPath.delete(pathOfUri(uri));
    this.cache.delete(uri);
    this.generation++;
  }

  /** A file changed on disk (a watched-files event). */
  touched(): void {
    this.generation++;
  }

  /** The URI a display or absolute path is shown under: the open document's, else a file URI. */
  uriOf(absolutePath: string): string {
    return this.byPath.get(absolutePath) ?? pathToFileURL(absolutePath).href;
  }

  /** The text of a file of an analysis, as a document (for positions). */
  textOf(analysis: Analysis, display: string): TextDocument | undefined {
    const file = analysis.program.files.get(display);
    if (file === undefined) return undefined;
    const open = this.open.get(this.uriOf(file.absolutePath));
    if (open !== undefined && open.getText() === file.text) return open;
    return TextDocument.create(this.uriOf(file.absolutePath), 'mt', 0, file.text);
  }

  /** Open documents whose last analysis loaded `absolutePath` (its importers, transitively), besides `except`. */
  dependents(absolutePath: string, except?: string): string[] {
    return [...this.cache.entries()].filter(([uri, c]) => uri !== except && c.analysis.files.has(absolutePath)).map(([uri]) => uri);
  }

  /** The analysis of an open document, made now if what it was made from has changed. */
  async analyze(uri: string): Promise<Analysis | undefined> {
    const doc = this.open.get(uri);
    if (doc === undefined) return undefined;
    // The document object is updated in place by later edits: take its version and text now, so
    // the analysis (and the diagnostics published under its version) is of one text.
    const version = doc.version;
    const text = doc.getText();
    const key = `${version}:${this.generation}`;
    const hit = this.cache.get(uri);
    if (hit !== undefined && hit.key === key) return hit.analysis;
    const entry = pathOfUri(uri);
    const host: LoaderHost = {
      readFile: async (absolutePath) => (absolutePath === entry ? { ok: true, text } : this.host.readFile(absolutePath)),
      get stdlibDir() {
        return nodeHost.stdlibDir;
      },
      stdModules: () => this.host.stdModules(),
    };
    const program = await loadProgramWith(entry, host);
    const { checked, diagnostics } = analyzeProgram(program);
    const analysis: Analysis = {
      uri,
      version,
      entry,
      program,
      checked,
      diagnostics,
      index: indexProgram(program),
      files: new Set([...program.files.values()].map((f) => f.absolutePath)),
    };
    // Another change may have come in while loading: only a current analysis is kept.
    if (this.open.get(uri) === doc && `${doc.version}:${this.generation}` === key) this.cache.set(uri, { key, analysis });
    return analysis;
  }

  /** Analyses of every open document (for references across files). */
  async analyzeAll(): Promise<Analysis[]> {
    const out: Analysis[] = [];
    for (const uri of this.open.keys()) {
      const a = await this.analyze(uri);
      if (a !== undefined) out.push(a);
    }
    return out;
  }
}
