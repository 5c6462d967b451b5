#!/usr/bin/env node
// Writes editors/vscode/syntaxes/mt.tmLanguage.json: the TextMate grammar of .mt, built from the
// Chevrotain token definitions (src/lsp/textmate.ts). A test fails when the committed file is stale.
// Run after building:  npm run build && node scripts/textmate-grammar.mjs
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'lsp', 'textmate.js');
if (!existsSync(built)) {
  console.error(`textmate-grammar: ${built} is missing; run 'npm run build' first`);
  process.exit(1);
}
const { textMateGrammarJson } = await import(built);
const out = join(root, 'editors', 'vscode', 'syntaxes', 'mt.tmLanguage.json');
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp`;
writeFileSync(tmp, textMateGrammarJson());
renameSync(tmp, out);
console.log(`wrote ${out}`);
