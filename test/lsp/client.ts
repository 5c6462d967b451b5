/**
 * A real LSP client for the tests: starts `mtc lsp --stdio` (bin/mtc.js, i.e. the built dist/) as
 * a child process and talks JSON-RPC to it over its stdin/stdout with vscode-jsonrpc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver';

const ROOT = process.cwd();

function newestIn(dir: string): number {
  let newest = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    if (f.endsWith('.ts') || f.endsWith('.tsx')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

/**
 * The server runs from dist/ (as users run it). When dist/ is missing or older than src/, it is
 * rebuilt first (one build at a time across test processes).
 */
export function ensureBuilt(): void {
  const built = join(ROOT, 'dist', 'lsp', 'server.js');
  const fresh = () => existsSync(built) && statSync(built).mtimeMs >= newestIn(join(ROOT, 'src'));
  if (fresh()) return;
  const lock = join(ROOT, 'dist', '.build-lock');
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (i > 600) throw new Error('test: waited 10 minutes for another build of dist/');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      if (fresh()) return;
    }
  }
  try {
    if (!fresh()) execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  } finally {
    rmdirSync(lock);
  }
}

export const uriOf = (path: string) => pathToFileURL(path).href;

export class LspClient {
  readonly connection: MessageConnection;
  /** The latest diagnostics per URI. */
  readonly diagnostics = new Map<string, PublishDiagnosticsParams>();
  private waiters: Array<() => void> = [];
  readonly stderr: string[] = [];
  private exited: number | null = null;

  private constructor(readonly child: ChildProcess) {
    this.connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    this.connection.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.diagnostics.set(p.uri, p);
      for (const w of this.waiters.splice(0)) w();
    });
    this.connection.onNotification('window/logMessage', (p: { message: string }) => {
      this.stderr.push(p.message);
    });
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('workspace/configuration', () => []);
    child.stderr!.on('data', (b: Buffer) => this.stderr.push(b.toString()));
    child.on('exit', (code) => {
      this.exited = code ?? -1;
      for (const w of this.waiters.splice(0)) w();
    });
    this.connection.listen();
  }

  /** Starts `mtc lsp --stdio` and initialises it. */
  static async start(options: { debounceMs?: number } = {}): Promise<LspClient> {
    ensureBuilt();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'mtc.js'), 'lsp', '--stdio'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const client = new LspClient(child);
    await client.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: uriOf(ROOT),
      capabilities: { textDocument: { hover: { contentFormat: ['markdown'] }, completion: { completionItem: { snippetSupport: true } } } },
      initializationOptions: { debounceMs: options.debounceMs ?? 20 },
    });
    await client.connection.sendNotification('initialized', {});
    return client;
  }

  get running(): boolean {
    return this.exited === null;
  }

  open(path: string, text: string, version = 1): string {
    const uri = uriOf(path);
    void this.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'mt', version, text } });
    return uri;
  }

  /** Replaces the document's whole text. */
  change(uri: string, version: number, text: string): void {
    void this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  /** An incremental edit: replaces a range with text. */
  edit(uri: string, version: number, range: { start: { line: number; character: number }; end: { line: number; character: number } }, text: string): void {
    void this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ range, text }] });
  }

  close(uri: string): void {
    void this.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  /** Waits for diagnostics of `uri` at `version` (or any, without a version). */
  async diagnosticsFor(uri: string, version?: number, timeoutMs = 30_000): Promise<Diagnostic[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.diagnostics.get(uri);
      if (got !== undefined && (version === undefined || got.version === version)) return got.diagnostics;
      if (!this.running) throw new Error(`the server exited (${this.exited}): ${this.stderr.join('')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no diagnostics for ${uri}${version === undefined ? '' : ` at version ${version}`} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  request<T>(method: string, params: unknown): Promise<T> {
    return this.connection.sendRequest(method, params) as Promise<T>;
  }

  async stop(): Promise<number | null> {
    if (this.running) {
      try {
        await this.request('shutdown', null);
        void this.connection.sendNotification('exit');
      } catch {
        // Already gone.
      }
      await new Promise<void>((resolve) => {
        if (!this.running) return resolve();
        const t = setTimeout(() => {
          this.child.kill();
          resolve();
        }, 5000);
        this.child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.connection.dispose();
    return this.exited;
  }
}
