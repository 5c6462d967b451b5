/**
 * Loading a program: the only module of the compiler that touches the file system (through a
 * LoaderHost, so tests can load from memory). Reads the entry file and, depth first, every file
 * it imports; reports missing files and import cycles (which are never followed, so they cannot hang).
 * Imports name `.mt` files only (MT0007): nothing else is read, so no diagnostic quotes another file.
 */
import { readFile, readdir } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, normalize, resolve } from 'node:path';
import { DiagnosticSink, sortDiagnostics } from './diagnostics.js';
import { parseSource } from './parse.js';
import type { Program, ResolvedImport, SourceFile, StdlibDeclaration } from './program.js';
import { spanAt, type Span } from './source.js';
import { stdlibDir, stdModuleName } from './stdlib.js';
import { didYouMean } from './suggest.js';

export type ReadResult = { ok: true; text: string } | { ok: false; notFound: boolean; reason: string };

export interface LoaderHost {
  /** Reads a file by absolute path. */
  readFile(absolutePath: string): Promise<ReadResult>;
  /** Absolute path of the stdlib folder (null: not found; std imports then fail with MT0002). */
  stdlibDir: string | null;
  /** Names of the stdlib modules (for did-you-mean on `std/...` imports). */
  stdModules(): Promise<string[]>;
}

/** The real file system. */
export const nodeHost: LoaderHost = {
  async readFile(absolutePath) {
    try {
      const bytes = await readFile(absolutePath);
      return { ok: true, text: new TextDecoder('utf-8', { fatal: false }).decode(bytes) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, notFound: true, reason: 'no such file' };
      if (code === 'EISDIR') return { ok: false, notFound: false, reason: 'it is a folder, not a file' };
      if (code === 'EACCES' || code === 'EPERM') return { ok: false, notFound: false, reason: 'permission denied' };
      return { ok: false, notFound: false, reason: e instanceof Error ? e.message : String(e) };
    }
  },
  get stdlibDir() {
    return stdlibDir();
  },
  async stdModules() {
    const dir = stdlibDir();
    if (dir === null) return [];
    try {
      const entries = await readdir(dir, { recursive: true });
      return entries.map((f) => f.split('\\').join('/')).filter((f) => f.endsWith('.mt')).map((f) => f.slice(0, -3)).sort();
    } catch {
      return [];
    }
  },
};

interface Target {
  display: string;
  absolute: string;
}

function targetOf(spec: string, importer: SourceFile, host: LoaderHost): Target | { stdMissingName: string } {
  const std = stdModuleName(spec);
  if (spec.startsWith('std/')) {
    if (std === null) return { stdMissingName: spec.slice(4) };
    // Without a stdlib folder the path below does not exist, so the import reports MT0002.
    return { display: `std/${std}.mt`, absolute: join(host.stdlibDir ?? '/nonexistent-multitalent-stdlib', `${std}.mt`) };
  }
  return {
    // An absolute path names the file itself (e.g. the model.mt that `mtc import` wrote).
    display: isAbsolute(spec) ? normalize(spec) : normalize(join(dirname(importer.path), spec)),
    absolute: resolve(dirname(importer.absolutePath), spec),
  };
}

/**
 * Parse results by display path and text. Checking many entry files in one process (mtc check
 * stdlib/**.mt experiments/*.mt) parses each shared import once. ASTs are never mutated after
 * parsing (applyOverrides works on a copy), so sharing them is safe.
 */
const parseCache = new Map<string, ReturnType<typeof parseSource>>();
const PARSE_CACHE_LIMIT = 512;
/** Also bounded by the text it holds: an editor sends a new text on every keystroke. */
const PARSE_CACHE_CHARS = 16_000_000;
let parseCacheChars = 0;

function parseCached(display: string, text: string): ReturnType<typeof parseSource> {
  const key = `${display}\u0000${text}`;
  let hit = parseCache.get(key);
  if (hit === undefined) {
    hit = parseSource(display, text);
    if (parseCache.size >= PARSE_CACHE_LIMIT || parseCacheChars + text.length > PARSE_CACHE_CHARS) {
      parseCache.clear();
      parseCacheChars = 0;
    }
    parseCache.set(key, hit);
    parseCacheChars += text.length;
  }
  return hit;
}

export async function loadProgramWith(entryPath: string, host: LoaderHost): Promise<Program> {
  const program: Program = { entry: entryPath, files: new Map(), sources: new Map(), diagnostics: [] };
  const sink = new DiagnosticSink();
  const byAbsolute = new Map<string, SourceFile>();
  const inProgress: string[] = [];

  const load = async (target: Target, text: string): Promise<SourceFile> => {
    const parsed = parseCached(target.display, text);
    const file: SourceFile = { path: target.display, absolutePath: target.absolute, text, ast: parsed.ast, imports: [] };
    byAbsolute.set(target.absolute, file);
    program.files.set(target.display, file);
    program.sources.set(target.display, text);
    sink.items.push(...parsed.diagnostics);
    inProgress.push(target.absolute);
    for (const imp of parsed.ast.imports) {
      file.imports.push(await follow(file, imp.spec, imp.specSpan));
    }
    inProgress.pop();
    return file;
  };

  const follow = async (importer: SourceFile, spec: string | null, at: Span): Promise<ResolvedImport> => {
    if (spec === null || spec.trim() === '') {
      if (spec !== null) sink.error('MT0002', at, 'empty import path', 'write e.g. import "std/schedules"');
      return { spec: spec ?? '', target: null };
    }
    const t = targetOf(spec, importer, host);
    if ('stdMissingName' in t) {
      sink.error('MT0002', at, `'${spec}' is not a valid stdlib module name`, 'stdlib imports look like "std/schedules"');
      return { spec, target: null };
    }
    // Only .mt files are ever read through an import (a shared spec is untrusted input: an import
    // of any other file would echo its lines back as diagnostics). A name without an extension
    // means NAME.mt; the file NAME itself is never read.
    let target = t;
    if (!spec.startsWith('std/')) {
      const ext = extname(spec);
      if (ext !== '' && ext !== '.mt') {
        sink.error('MT0007', at, `cannot import '${spec}': only .mt files can be imported`, 'import another .mt file, e.g. import "./shared.mt"; other files are never read');
        return { spec, target: null };
      }
      if (ext === '') target = { display: `${t.display}.mt`, absolute: `${t.absolute}.mt` };
    }
    const existing = byAbsolute.get(target.absolute);
    if (inProgress.includes(target.absolute)) {
      const chain = [...inProgress.slice(inProgress.indexOf(target.absolute)), target.absolute].map((a) => byAbsolute.get(a)?.path ?? a);
      sink.error('MT0003', at, `import cycle: ${chain.join(' -> ')}`, 'move the shared declarations into a third file that both import');
      return { spec, target: target.display };
    }
    if (existing) return { spec, target: existing.path };
    const read = await host.readFile(target.absolute);
    if (!read.ok) {
      if (spec.startsWith('std/')) {
        const name = stdModuleName(spec) ?? spec;
        const mods = await host.stdModules();
        sink.error('MT0002', at, `no stdlib module '${name}'`, didYouMean(name, mods) ?? (mods.length > 0 ? `available: ${mods.map((m) => `std/${m}`).join(', ')}` : undefined));
      } else {
        sink.error('MT0002', at, `cannot import '${spec}': ${read.reason} (looked for ${target.display})`, 'import paths are relative to the importing file');
      }
      return { spec, target: null };
    }
    const loaded = await load(target, read.text);
    return { spec, target: loaded.path };
  };

  const entryTarget: Target = { display: entryPath, absolute: resolve(entryPath) };
  const read = await host.readFile(entryTarget.absolute);
  if (!read.ok) {
    program.sources.set(entryPath, '');
    sink.error('MT0001', spanAt(entryPath, '', 0, 0), `cannot read '${entryPath}': ${read.reason}`, read.notFound ? 'check the path; it is relative to the current folder' : undefined);
  } else {
    await load(entryTarget, read.text);
  }
  program.diagnostics = sortDiagnostics(sink.items, [...program.files.keys()]);
  program.stdlib = await indexStdlib(host);
  return program;
}

/**
 * Every declaration of the stdlib by name, so that a name the program lacks can be answered with
 * the import that declares it. Modules are parsed once per process (the parse cache); a module
 * that cannot be read is left out.
 */
async function indexStdlib(host: LoaderHost): Promise<Map<string, StdlibDeclaration>> {
  const index = new Map<string, StdlibDeclaration>();
  const dir = host.stdlibDir;
  if (dir === null) return index;
  for (const name of [...(await host.stdModules())].sort()) {
    const read = await host.readFile(join(dir, `${name}.mt`));
    if (!read.ok) continue;
    for (const d of parseCached(`std/${name}.mt`, read.text).ast.declarations) {
      if (d.name !== null && !index.has(d.name.text)) index.set(d.name.text, { kind: d.kind.text, module: `std/${name}` });
    }
  }
  return index;
}

/** Reads the entry file and everything it imports from disk. */
export function loadProgram(entryPath: string): Promise<Program> {
  return loadProgramWith(entryPath, nodeHost);
}

/** An in-memory host: `files` maps absolute paths to text. For tests and tools. */
export function memoryHost(files: Record<string, string>, stdlib: Record<string, string> = {}, stdDir = '/std'): LoaderHost {
  const all = new Map<string, string>(Object.entries(files).map(([k, v]) => [resolve(k), v]));
  for (const [name, text] of Object.entries(stdlib)) all.set(join(stdDir, `${name}.mt`), text);
  return {
    async readFile(p) {
      const text = all.get(p);
      return text === undefined ? { ok: false, notFound: true, reason: 'no such file' } : { ok: true, text };
    },
    stdlibDir: stdDir,
    async stdModules() {
      return Object.keys(stdlib);
    },
  };
}
