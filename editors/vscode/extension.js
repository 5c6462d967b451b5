// The VS Code client of the .mt language server: starts `mtc lsp --stdio` and hands .mt documents
// to it. Everything the editor shows (diagnostics, hover, definitions, completion, formatting)
// comes from the server, i.e. from the mtc compiler itself.
'use strict';

const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

/** The server command: the setting, else the workspace's own mtc, else `mtc` on the PATH. */
function serverCommand() {
  const config = vscode.workspace.getConfiguration('multitalent');
  const args = config.get('server.args', ['lsp', '--stdio']);
  const configured = config.get('server.command', '');
  if (configured) return { command: configured, args };
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const root = folder.uri.fsPath;
    const local = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'mtc.cmd' : 'mtc');
    if (existsSync(local)) return { command: local, args };
    // The multitalent checkout itself.
    try {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
      if (pkg.name === 'multitalent' && existsSync(join(root, 'bin', 'mtc.js'))) return { command: process.execPath, args: [join(root, 'bin', 'mtc.js'), ...args], options: { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } } };
    } catch {
      // Not a node project.
    }
  }
  return { command: process.platform === 'win32' ? 'mtc.cmd' : 'mtc', args };
}

function activate(context) {
  const server = serverCommand();
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  // No `transport`: the client would append another --stdio; the arguments already say it.
  const run = { command: server.command, args: server.args, options: { cwd, shell: process.platform === 'win32', ...(server.options ?? {}) } };
  client = new LanguageClient(
    'multitalent',
    'MultiTalent (mtc)',
    { run, debug: run },
    {
      documentSelector: [
        { scheme: 'file', language: 'mt' },
        { scheme: 'untitled', language: 'mt' },
      ],
      // Files changed outside the editor (git checkout, another tool) recheck their importers.
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.mt') },
    },
  );
  context.subscriptions.push(client);
  client.start().catch((e) => {
    vscode.window.showErrorMessage(`MultiTalent: cannot start the language server '${server.command} ${server.args.join(' ')}': ${e.message}. Install multitalent (npm install multitalent) or set multitalent.server.command.`);
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
