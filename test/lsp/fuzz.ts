/**
 * Generated hostile inputs for the fuzz tests: random tokens, mutated real files, deep nesting,
 * huge numbers and binary bytes, from a fixed seed (the same 10^4 inputs on every run).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DECLARATION_WORDS, FIELD_WORDS } from '../../src/compiler/grammar/tokens.js';
import { makeRng } from '../../src/runtime/rng.js';

/** The project's one seeded generator (src/runtime/rng.ts), for a fixed sequence of inputs. */
export function rng(seed: number): () => number {
  return makeRng(seed, 'fuzz');
}

const REAL_FILES = [
  ...(readdirSync('stdlib', { recursive: true }) as string[]).filter((f) => f.endsWith('.mt')).map((f) => join('stdlib', f)),
  ...readdirSync('experiments').filter((f) => f.endsWith('.mt')).map((f) => join('experiments', f)),
].sort().map((f) => readFileSync(f, 'utf8'));

const PIECES = [
  ...DECLARATION_WORDS, ...FIELD_WORDS, 'import', 'extends', 'true', 'false', 'heads', 'all', 'rest', 'poly', 'sgd', 'adamw', 'linear',
  'each', 'tagged', 'unet', 'resenc_unet', 'swin_unetr', 'inverse_sqrt', 'none', 'liver', 'x', 'msd_liver', 'btcv.liver', 'multitalent_unet',
  '{', '}', '[', ']', '(', ')', ',', ':', '.', '=', ';', '@', '"s"', '"std/schedules"', '"std/datasets/msd"', '"unterminated', '/*', '*/', '//', '#',
  '0', '1', '-3', '2.5e3', '1e999', '.5', '\n', ' ', '\t', '\r\n', '\u00e9', '\u{1F600}', '\u0000', '\ufffd',
];

const HUGE = ['1e308', '1e309', '-1e999999', '99999999999999999999999999', '4294967297', '9007199254740993', '1e-400', '-0', '0.0000000000000000000001', '9'.repeat(2000), '1e', '.', '-', '--1', '1.2.3', 'NaN', 'Infinity'];

type Kind = 'tokens' | 'mutated' | 'deep' | 'huge' | 'binary';
export const KINDS: Kind[] = ['tokens', 'mutated', 'deep', 'huge', 'binary'];

function pick<T>(next: () => number, xs: readonly T[]): T {
  return xs[Math.floor(next() * xs.length)];
}

function randomTokens(next: () => number): string {
  const n = 1 + Math.floor(next() * 120);
  const sep = next() < 0.5 ? ' ' : '';
  return Array.from({ length: n }, () => pick(next, PIECES)).join(sep);
}

function mutated(next: () => number): string {
  let text = pick(next, REAL_FILES);
  const edits = 1 + Math.floor(next() * 6);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(next() * (text.length + 1));
    const len = Math.floor(next() * 40);
    switch (Math.floor(next() * 6)) {
      case 0: // delete
        text = text.slice(0, at) + text.slice(at + len);
        break;
      case 1: // duplicate
        text = text.slice(0, at + len) + text.slice(at, at + len) + text.slice(at + len);
        break;
      case 2: // insert a piece
        text = text.slice(0, at) + pick(next, PIECES) + text.slice(at);
        break;
      case 3: // replace a character with a random code unit
        text = text.slice(0, at) + String.fromCharCode(Math.floor(next() * 0x10000)) + text.slice(at + 1);
        break;
      case 4: // truncate
        text = text.slice(0, at);
        break;
      default: { // move a chunk elsewhere
        const chunk = text.slice(at, at + len);
        const rest = text.slice(0, at) + text.slice(at + len);
        const to = Math.floor(next() * (rest.length + 1));
        text = rest.slice(0, to) + chunk + rest.slice(to);
      }
    }
  }
  return text;
}

function deep(next: () => number): string {
  // Mostly a few hundred levels; one in twenty as deep as the 20,000 '[' of issue #14.
  const depth = next() < 0.05 ? Math.floor(20_000 + next() * 10_000) : Math.floor(50 + next() * 2000);
  const opener = pick(next, ['[', '{', '(', 'x { ', 'f(', '[{(', 'a [']);
  const closer: Record<string, string> = { '[': ']', '{': '}', '(': ')', 'x { ': '} ', 'f(': ')', '[{(': ')}]', 'a [': ']' };
  const closed = next() < 0.5;
  const head = pick(next, ['architecture a { patch ', 'experiment e { datasets ', 'schedule s { lr ', 'dataset d { root "r" classes { c ', '']);
  return `${head}${opener.repeat(depth)}${closed ? closer[opener].repeat(depth) : ''}${head === '' ? '' : ' }'}\n${next() < 0.5 ? 'schedule tail { epochs 1 }\n' : ''}`;
}

function huge(next: () => number): string {
  const base = pick(next, REAL_FILES);
  // Replace some of the file's numbers by hostile ones.
  return base.replace(/-?\d+(?:\.\d+)?(?:e-?\d+)?/g, (m) => (next() < 0.3 ? pick(next, HUGE) : m));
}

function binary(next: () => number): string {
  const bytes = new Uint8Array(1 + Math.floor(next() * 2000)).map(() => Math.floor(next() * 256));
  const decoded = next() < 0.7 ? new TextDecoder('utf-8', { fatal: false }).decode(bytes) : String.fromCharCode(...bytes);
  // Sometimes binary inside a real file.
  if (next() < 0.3) {
    const real = pick(next, REAL_FILES);
    const at = Math.floor(next() * real.length);
    return real.slice(0, at) + decoded + real.slice(at);
  }
  return decoded;
}

export interface FuzzInput {
  kind: Kind;
  text: string;
}

/** The i-th input of the fixed sequence (kinds in turn). */
export function* fuzzInputs(count: number, seed = 20261201): Generator<FuzzInput> {
  const next = rng(seed);
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length];
    const text = kind === 'tokens' ? randomTokens(next) : kind === 'mutated' ? mutated(next) : kind === 'deep' ? deep(next) : kind === 'huge' ? huge(next) : binary(next);
    yield { kind, text };
  }
}
