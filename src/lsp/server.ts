/**
 * `mtc lsp --stdio`: the language server. Diagnostics are exactly `mtc check`'s (same loader, same
 * checker), published for each open document and for the files it imports; hover, definition,
 * references, document symbols, completion and formatting work from the compiler's ASTs, its
 * checked program and its formatter. Every handler answers, whatever the document holds: a failure
 * inside one is logged and answered with nothing, and the server keeps running.
 */
import {
  DiagnosticSeverity, MarkupKind, TextDocumentSyncKind, TextDocuments, type Connection, type Diagnostic as LspDiagnostic, type Location, type Range,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { formatSource, type Diagnostic, type Span } from '../compiler/index.js';
import { completionItems, cursorContext } from './completion.js';
import { classFacts, declarationFacts, fieldFacts } from './facts.js';
import { occurrenceAt, type Occurrence } from './index-ast.js';
import { definitionOf, documentSymbols, referencesOf, targetOf, type Place } from './navigation.js';
import { pathOfUri, Workspace, type Analysis } from './workspace.js';

export interface ServerOptions {
  /** Quiet time after an edit before the document is checked again (ms). */
  debounceMs?: number;
}

const DEFAULT_DEBOUNCE_MS = 200;

/** Wires the server to a connection (stdio in `mtc lsp`; tests may pass any connection). */
export function startServer(connection: Connection, options: ServerOptions = {}): void {
  const workspace = new Workspace();
  const documents = new TextDocuments(TextDocument);
  let debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let timer: NodeJS.Timeout | undefined;
  /** URIs that received diagnostics, to clear them when nothing reports there any more. */
  const published = new Set<string>();

  const log = (what: string, e: unknown) => connection.console.error(`mtc lsp: ${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  /** Runs a handler; any failure is logged and answered with `fallback`. */
  const safe = async <T>(what: string, fallback: T, fn: () => Promise<T> | T): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      log(what, e);
      return fallback;
    }
  };

  const rangeIn = (a: Analysis, file: string, span: Span): Range | null => {
    const doc = workspace.textOf(a, file);
    return doc === undefined ? null : { start: doc.positionAt(span.start.offset), end: doc.positionAt(span.end.offset) };
  };
  const locationOf = (a: Analysis, p: Place): Location | null => {
    const f = a.program.files.get(p.file);
    const range = rangeIn(a, p.file, p.span);
    return f === undefined || range === null ? null : { uri: workspace.uriOf(f.absolutePath), range };
  };
  const toLsp = (a: Analysis, d: Diagnostic): LspDiagnostic | null => {
    const range = rangeIn(a, d.span.file, d.span);
    if (range === null) return null;
    return {
      range,
      severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      code: d.code,
      source: 'mtc',
      message: d.hint === undefined ? d.message : `${d.message}\nhint: ${d.hint}`,
    };
  };

  /** Publishes every open document's diagnostics, and those its program reports in files that are not open. */
  const publishAll = async (): Promise<void> => {
    const byUri = new Map<string, { version?: number; items: LspDiagnostic[]; keys: Set<string> }>();
    for (const a of await workspace.analyzeAll()) {
      const own = byUri.get(a.uri) ?? { version: a.version, items: [], keys: new Set<string>() };
      own.version = a.version;
      byUri.set(a.uri, own);
      for (const d of a.diagnostics) {
        const file = a.program.files.get(d.span.file);
        const uri = d.span.file === a.entry ? a.uri : file === undefined ? undefined : workspace.uriOf(file.absolutePath);
        // An open file's diagnostics come from its own check.
        if (uri === undefined || (uri !== a.uri && workspace.document(uri) !== undefined)) continue;
        const lsp = toLsp(a, d);
        if (lsp === null) continue;
        const slot = byUri.get(uri) ?? { items: [], keys: new Set<string>() };
        byUri.set(uri, slot);
        const key = `${d.code}|${d.span.start.offset}|${d.span.end.offset}|${d.message}`;
        if (slot.keys.has(key)) continue;
        slot.keys.add(key);
        slot.items.push(lsp);
      }
    }
    for (const uri of published) if (!byUri.has(uri)) void connection.sendDiagnostics({ uri, diagnostics: [] });
    published.clear();
    for (const [uri, { version, items }] of byUri) {
      published.add(uri);
      void connection.sendDiagnostics(version === undefined ? { uri, diagnostics: items } : { uri, version, diagnostics: items });
    }
  };

  let publishing: Promise<void> = Promise.resolve();
  /** Rechecks after a quiet time: every open document (an edit may change what its importers report). */
  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      publishing = publishing.then(() => safe('checking', undefined, publishAll));
    }, debounceMs);
  };

  const analysisOf = async (uri: string): Promise<Analysis | undefined> => {
    const doc = documents.get(uri);
    if (doc === undefined) return undefined;
    // Normally set by the open/change events already; setting it again would void every cached analysis.
    if (workspace.document(uri) !== doc) workspace.set(doc);
    return workspace.analyze(uri);
  };
  const at = async (uri: string, position: { line: number; character: number }): Promise<{ a: Analysis; o: Occurrence | undefined; offset: number } | undefined> => {
    const a = await analysisOf(uri);
    const doc = documents.get(uri);
    if (a === undefined || doc === undefined) return undefined;
    const offset = doc.offsetAt(position);
    return { a, o: occurrenceAt(a.index.get(a.entry), offset), offset };
  };

  connection.onInitialize((params) => {
    const init = params.initializationOptions as { debounceMs?: unknown } | undefined;
    if (typeof init?.debounceMs === 'number' && init.debounceMs >= 0) debounceMs = init.debounceMs;
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        completionProvider: { triggerCharacters: ['.', '"', '/', '[', '(', ','] },
      },
      serverInfo: { name: 'mtc' },
    };
  });

  documents.onDidOpen((e) => {
    workspace.set(e.document);
    schedule();
  });
  documents.onDidChangeContent((e) => {
    workspace.set(e.document);
    schedule();
  });
  documents.onDidClose((e) => {
    workspace.close(e.document.uri);
    schedule();
  });
  connection.onDidChangeWatchedFiles(() => {
    workspace.touched();
    schedule();
  });

  connection.onHover((p) =>
    safe('hover', null, async () => {
      const r = await at(p.textDocument.uri, p.position);
      if (r === undefined || r.o === undefined) return null;
      const { a, o } = r;
      let text: string | null = null;
      if (o.role === 'declaration') text = declarationFacts(a.checked, o.name, null);
      else if (o.role === 'reference') text = o.member === null ? declarationFacts(a.checked, o.name, o.context) : classFacts(a.checked, o.name, o.member);
      else if (o.role === 'class') text = classFacts(a.checked, o.dataset, o.name);
      else if (o.role === 'field' || o.role === 'value') text = o.block === null || o.block === 'classes' || o.block === 'labels' ? null : fieldFacts(o.block, o.key);
      else if (o.role === 'import') text = o.target === null ? null : `**${o.target}**\n\ndeclares ${(a.program.files.get(o.target)?.ast.declarations ?? []).map((d) => `\`${d.name?.text ?? d.kind.text}\``).join(', ') || 'nothing'}`;
      // A reference to nothing known (an option word such as inverse_sqrt in 'sampling'): the field's documentation.
      if (text === null && o.role === 'reference') {
        let field: Occurrence | undefined;
        for (const x of a.index.get(a.entry)?.occurrences ?? []) {
          if (x.role === 'field' && x.span.start.offset < o.span.start.offset && (field === undefined || x.span.start.offset > field.span.start.offset)) field = x;
        }
        if (field?.role === 'field' && field.block !== null && field.block !== 'classes' && field.block !== 'labels') text = fieldFacts(field.block, field.key);
      }
      const range = rangeIn(a, a.entry, o.span);
      return text === null ? null : { contents: { kind: MarkupKind.Markdown, value: text }, ...(range === null ? {} : { range }) };
    }),
  );

  connection.onDefinition((p) =>
    safe('definition', null, async () => {
      const r = await at(p.textDocument.uri, p.position);
      const t = r?.o === undefined ? null : targetOf(r.o);
      if (r === undefined || t === null) return null;
      const place = definitionOf(r.a, t);
      return place === null ? null : locationOf(r.a, place);
    }),
  );

  connection.onReferences((p) =>
    safe('references', [], async () => {
      const r = await at(p.textDocument.uri, p.position);
      const t = r?.o === undefined ? null : targetOf(r.o);
      if (r === undefined || t === null) return [];
      const seen = new Set<string>();
      const out: Location[] = [];
      // This document's program first, then every other open document's (its importers).
      for (const a of [r.a, ...(await workspace.analyzeAll()).filter((x) => x.uri !== r.a.uri)]) {
        for (const place of referencesOf(a, t, p.context.includeDeclaration)) {
          const loc = locationOf(a, place);
          if (loc === null) continue;
          const key = `${loc.uri}:${loc.range.start.line}:${loc.range.start.character}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(loc);
        }
      }
      return out;
    }),
  );

  connection.onDocumentSymbol((p) =>
    safe('document symbols', [], async () => {
      const a = await analysisOf(p.textDocument.uri);
      const ast = a?.program.files.get(a.entry)?.ast;
      if (a === undefined || ast === undefined) return [];
      const zero: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
      return documentSymbols(ast, (s) => rangeIn(a, a.entry, s) ?? zero);
    }),
  );

  connection.onCompletion((p) =>
    safe('completion', [], async () => {
      const a = await analysisOf(p.textDocument.uri);
      const doc = documents.get(p.textDocument.uri);
      const ast = a?.program.files.get(a.entry)?.ast;
      if (a === undefined || doc === undefined || ast === undefined) return [];
      const ctx = cursorContext(ast, doc.getText(), doc.offsetAt(p.position));
      return completionItems(ctx, a.checked, ctx.at === 'import' ? await workspace.host.stdModules() : []);
    }),
  );

  connection.onDocumentFormatting((p) =>
    safe('formatting', [], () => {
      const doc = documents.get(p.textDocument.uri);
      if (doc === undefined) return [];
      const text = doc.getText();
      const r = formatSource(pathOfUri(doc.uri), text);
      if (r.text === null || r.text === text) return [];
      return [{ range: { start: doc.positionAt(0), end: doc.positionAt(text.length) }, newText: r.text }];
    }),
  );

  documents.listen(connection);
  connection.listen();
}
