/**
 * Parser error messages written for people, not grammar engineers. Chevrotain calls the provider
 * while it parses; messages are encoded as JSON ({code, message, hint}) so that parse.ts can turn
 * them into diagnostics with stable codes.
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { EOF, tokenMatcher } from './chevrotain.js';
import {
  Colon, Comma, DeclKeyword, Extends, FieldKeyword, Identifier, Import, Keyword, LBracket, LCurly, LParen,
  NumberLiteral, RBracket, RCurly, RParen, StringLiteral,
} from './tokens.js';
import type { DiagnosticCode } from '../diagnostics.js';

export interface EncodedParseMessage {
  code: DiagnosticCode;
  message: string;
  hint?: string;
}

/** The tokens being parsed; set by parse.ts before each parse so messages can look around. */
let currentTokens: IToken[] = [];
export function setMessageContext(tokens: IToken[]): void {
  currentTokens = tokens;
}

function encode(m: EncodedParseMessage): string {
  return JSON.stringify(m);
}

export function decodeParseMessage(text: string): EncodedParseMessage {
  try {
    const v = JSON.parse(text) as EncodedParseMessage;
    if (typeof v.code === 'string' && typeof v.message === 'string') return v;
  } catch {
    // Not one of ours (Chevrotain built it itself): keep its text.
  }
  return { code: 'MT0103', message: text };
}

function isEof(t: IToken | undefined): boolean {
  return t === undefined || t.tokenType === EOF;
}

/** How a token reads in a message: `end of file`, `keyword 'patch'`, `'foo'`, `number 3`. */
export function describeToken(t: IToken | undefined): string {
  if (t === undefined || isEof(t)) return 'the end of the file';
  if (tokenMatcher(t, Keyword)) return `keyword '${t.image}'`;
  if (tokenMatcher(t, Identifier)) return `name '${t.image}'`;
  if (tokenMatcher(t, NumberLiteral)) return `number ${t.image}`;
  if (tokenMatcher(t, StringLiteral)) return `string ${t.image.length > 30 ? `${t.image.slice(0, 27)}...` : t.image}`;
  return `'${t.image}'`;
}

/** How an expected token type reads: `'}'`, `a name`, `a number`. */
export function describeExpected(tt: TokenType): string {
  if (tt === Identifier) return 'a name';
  if (tt === NumberLiteral) return 'a number';
  if (tt === StringLiteral) return 'a string';
  if (tt === FieldKeyword) return 'a field name';
  if (tt === DeclKeyword) return 'a declaration (dataset, classset, architecture, schedule, sampling, augmentation, experiment, family)';
  if (typeof tt.LABEL === 'string') return tt.LABEL;
  return tt.name;
}

function indexOfToken(t: IToken): number {
  const i = currentTokens.indexOf(t);
  return i < 0 ? currentTokens.length : i;
}

function at(t: IToken): string {
  return `${t.startLine ?? '?'}:${t.startColumn ?? '?'}`;
}

/** Describes the block opened by the `{` at index i: "dataset 'liver'", "the 'classes' block". */
export function describeBlockAt(tokens: IToken[], i: number): string {
  const a = tokens[i - 1];
  const b = tokens[i - 2];
  if (a !== undefined && b !== undefined && tokenMatcher(b, Extends) && i >= 4) return describeBlockAt(tokens, i - 2);
  if (a !== undefined && b !== undefined && tokenMatcher(a, Identifier) && tokenMatcher(b, DeclKeyword)) {
    return `${b.image} '${a.image}'`;
  }
  if (a !== undefined && b !== undefined && b.image === 'phase') return `phase '${a.image}'`;
  if (a !== undefined && (tokenMatcher(a, FieldKeyword) || tokenMatcher(a, Identifier))) return `the '${a.image}' block`;
  return 'the block';
}

/** Index of the innermost `{` still open before token index `end`, or -1. */
export function unclosedBraceBefore(tokens: IToken[], end: number): number {
  const stack: number[] = [];
  for (let i = 0; i < end && i < tokens.length; i++) {
    const t = tokens[i];
    if (t.isInsertedInRecovery) continue;
    if (tokenMatcher(t, LCurly)) stack.push(i);
    else if (tokenMatcher(t, RCurly)) stack.pop();
  }
  return stack.length > 0 ? stack[stack.length - 1] : -1;
}

const closers: Array<[TokenType, TokenType, string]> = [
  [RBracket, LBracket, 'list'],
  [RParen, LParen, 'argument list'],
];

export const mtErrorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
    const found = describeToken(actual);
    if (expected === RCurly) {
      const open = unclosedBraceBefore(currentTokens, indexOfToken(actual));
      if (open >= 0) {
        const brace = currentTokens[open];
        return encode({
          code: 'MT0104',
          message: `expected '}' to close ${describeBlockAt(currentTokens, open)} opened at ${at(brace)}, found ${found}`,
          hint: `add '}' before ${isEof(actual) ? 'the end of the file' : `line ${actual.startLine ?? '?'}`}`,
        });
      }
    }
    for (const [closer, opener, what] of closers) {
      if (expected === closer && tokenMatcher(actual, Comma)) {
        return encode({ code: 'MT0106', message: `expected a value before this ',' in the ${what}`, hint: 'remove the extra comma, or put the missing value there' });
      }
      if (expected === closer) {
        return encode({
          code: 'MT0103',
          message: `expected ${describeExpected(closer)} to close the ${what}, found ${found}`,
          hint: `items are separated by ','; a ${describeExpected(opener)} needs a matching ${describeExpected(closer)}`,
        });
      }
    }
    if (expected === Identifier && tokenMatcher(actual, Keyword)) {
      const what = ruleName === 'declaration' && previous !== undefined ? ` for the ${previous.image}` : '';
      return encode({
        code: 'MT0105',
        message: `'${actual.image}' is a reserved word and cannot be used as a name${what}`,
        hint: `choose another name, e.g. '${actual.image}_1' or 'my_${actual.image}'`,
      });
    }
    if (expected === LCurly && ruleName === 'declaration') {
      return encode({
        code: 'MT0103',
        message: `expected '{' to open the body of ${previous !== undefined ? `'${previous.image}'` : 'the declaration'}, found ${found}`,
      });
    }
    if (expected === StringLiteral && previous !== undefined && tokenMatcher(previous, Import)) {
      return encode({ code: 'MT0103', message: `expected a quoted path after 'import', found ${found}`, hint: 'write e.g. import "std/schedules" or import "common/datasets.mt"' });
    }
    if (expected === Colon) return encode({ code: 'MT0103', message: `expected ':' after the argument name, found ${found}` });
    if (expected === Comma) return encode({ code: 'MT0103', message: `expected ',' between items, found ${found}` });
    return encode({ code: 'MT0103', message: `expected ${describeExpected(expected)}, found ${found}` });
  },

  buildNotAllInputParsedMessage({ firstRedundant }) {
    if (tokenMatcher(firstRedundant, RCurly)) {
      return encode({ code: 'MT0103', message: `unexpected '}': there is no open block to close`, hint: 'remove it, or look for a missing \'{\' above' });
    }
    return encode({
      code: 'MT0103',
      message: `unexpected ${describeToken(firstRedundant)} at the top level of the file`,
      hint: 'a file holds imports and declarations: import "...", dataset NAME { ... }, architecture NAME { ... }, schedule NAME { ... }, experiment NAME [extends OTHER] { ... }, ...',
    });
  },

  buildNoViableAltMessage({ actual, previous, ruleName }) {
    const found = describeToken(actual[0]);
    if (ruleName === 'value') {
      return encode({
        code: 'MT0106',
        message: `expected a value${previous !== undefined && !isEof(previous) ? ` after '${previous.image}'` : ''}, found ${found}`,
        hint: 'a value is a number, a "string", a name, a list [a, b], a call like poly(0.01, 0.9), true or false',
      });
    }
    return encode({ code: 'MT0103', message: `unexpected ${found}` });
  },

  buildEarlyExitMessage({ actual }) {
    return encode({ code: 'MT0103', message: `unexpected ${describeToken(actual[0])}` });
  },
};
