/**
 * The nesting limit. The parser, the CST-to-AST builder and everything after them recurse once per
 * level of `{`, `[` and `(`, so input that nests without bound (20,000 `[` in a row) would exhaust
 * the call stack. Before parsing, tokens nested deeper than MAX_NESTING are taken out of the stream
 * and each such region is reported once, at its first too-deep opener; the rest of the file parses
 * and is checked as usual. Real files nest four levels at most (`kernels [[1, 3, 3], ...]` inside a
 * declaration), so the limit is far from anything a person writes.
 */
import type { IToken, TokenType } from 'chevrotain';
import { LBracket, LCurly, LParen, RBracket, RCurly, RParen } from './tokens.js';

/** The deepest nesting of `{`, `[` and `(` (together) that the parser accepts. */
export const MAX_NESTING = 64;

export interface NestingResult {
  /** The tokens the parser sees: those nested at most `max` deep (and the closers that match them). */
  tokens: IToken[];
  /** The first opener of each region nested too deep, in source order. */
  tooDeep: IToken[];
}

/** Opener -> its closer, and closer -> its opener (token types compared by identity: no categories here). */
const CLOSER = new Map<TokenType, TokenType>([
  [LCurly, RCurly],
  [LBracket, RBracket],
  [LParen, RParen],
]);
const OPENER = new Map<TokenType, TokenType>([...CLOSER].map(([open, close]) => [close, open]));

/**
 * Drops the tokens nested deeper than `max`. A closer pops the stack down to the opener it matches
 * (so `[[[ }` closes the block, as parser recovery would); it is kept when that opener was kept.
 * Runs in one pass without recursion, whatever the input.
 */
export function limitNesting(tokens: readonly IToken[], max: number = MAX_NESTING): NestingResult {
  const stack: TokenType[] = [];
  const kept: IToken[] = [];
  const tooDeep: IToken[] = [];
  for (const t of tokens) {
    const open = CLOSER.has(t.tokenType) ? t.tokenType : null;
    if (open !== null) {
      if (stack.length < max) kept.push(t);
      else if (stack.length === max) tooDeep.push(t);
      stack.push(open);
      continue;
    }
    const matches = OPENER.get(t.tokenType);
    if (matches !== undefined) {
      let i = stack.length - 1;
      while (i >= 0 && stack[i] !== matches) i--;
      if (i < 0) {
        // A closer without an opener: the parser reports it (when it is not inside a dropped region).
        if (stack.length <= max) kept.push(t);
        continue;
      }
      if (i < max) kept.push(t);
      stack.length = i;
      continue;
    }
    if (stack.length <= max) kept.push(t);
  }
  return { tokens: kept.length === tokens.length ? [...tokens] : kept, tooDeep };
}
