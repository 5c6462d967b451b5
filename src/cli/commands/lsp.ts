/**
 * `mtc lsp --stdio`: runs the language server on stdin/stdout until the editor ends the session
 * (the protocol's exit notification, or the editor's process going away, ends the process).
 */
import type { CliIO } from '../io.js';

export async function lspCommand(io: CliIO): Promise<number> {
  const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
  const { startServer } = await import('../../lsp/server.js');
  const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  // stdout carries the protocol: anything else goes to the editor's log, and nothing ends the server
  // but the editor.
  const report = (e: unknown) => connection.console.error(`mtc lsp: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
  const debounce = io.env.MTC_LSP_DEBOUNCE_MS === undefined ? undefined : Number(io.env.MTC_LSP_DEBOUNCE_MS);
  startServer(connection, debounce !== undefined && Number.isFinite(debounce) ? { debounceMs: debounce } : {});
  return new Promise<number>(() => {
    // Never settles: the connection ends the process.
  });
}
