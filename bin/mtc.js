#!/usr/bin/env node
// Entry point of the `mtc` command; the TypeScript sources are built to dist/ by `npm ci` (prepare).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('mtc: dist/ is missing; run `npm ci` (or `npm run build`) in the project folder first.\n');
  process.exit(1);
}
// A closed pipe (`mtc compile … | head`) is a normal way for a reader to stop: exit quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
// React (under the Ink screen) runs its production build: the development one checks and logs on
// every render, which a terminal program does not need and the training would pay for.
process.env.NODE_ENV ??= 'production';
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
