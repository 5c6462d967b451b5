/**
 * Chevrotain, loaded from its single-file ES bundle when the package ships one. The package's
 * default entry loads several hundred small modules (lodash-es), which costs about 0.5 s of start-up
 * on every `mtc` call; the bundle is the same library in one file (about 50 ms). Falls back to the
 * package entry. Every runtime use of Chevrotain in the compiler goes through this module, so that
 * token types, EOF and the parser share one instance.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Chevrotain = typeof import('chevrotain');

async function load(): Promise<Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve('chevrotain');
    const bundle = join(dirname(entry), '..', 'chevrotain.mjs');
    if (existsSync(bundle)) return (await import(pathToFileURL(bundle).href)) as Chevrotain;
  } catch {
    // Fall through to the package entry.
  }
  return import('chevrotain');
}

const chevrotain: Chevrotain = await load();

export const { createToken, Lexer, CstParser, tokenMatcher, EOF } = chevrotain;
