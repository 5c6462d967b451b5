import { describe, expect, it } from 'vitest';
import { tokenMatcher } from '../../src/compiler/grammar/chevrotain.js';
import {
  DeclKeyword, FieldKeyword, Identifier, mtLexer, NumberLiteral, StringLiteral, UnterminatedString, FIELD_WORDS,
} from '../../src/compiler/grammar/tokens.js';
import { BLOCK_FIELDS, DECLARATION_BLOCKS } from '../../src/compiler/check/fields.js';

function lex(text: string) {
  return mtLexer.tokenize(text);
}

describe('lexer', () => {
  it('tells keywords from identifiers that merely start like one', () => {
    const { tokens, errors } = lex('dataset datasets rootx root lr lrate');
    expect(errors).toEqual([]);
    expect(tokens.map((t) => t.image)).toEqual(['dataset', 'datasets', 'rootx', 'root', 'lr', 'lrate']);
    expect(tokenMatcher(tokens[0], DeclKeyword)).toBe(true);
    expect(tokenMatcher(tokens[1], FieldKeyword)).toBe(true);
    expect(tokenMatcher(tokens[1], DeclKeyword)).toBe(false);
    expect(tokenMatcher(tokens[2], Identifier)).toBe(true);
    expect(tokenMatcher(tokens[3], FieldKeyword)).toBe(true);
    expect(tokenMatcher(tokens[5], Identifier)).toBe(true);
  });

  it('makes architecture and schedule both declaration and field keywords', () => {
    const { tokens } = lex('architecture schedule');
    for (const t of tokens) {
      expect(tokenMatcher(t, DeclKeyword)).toBe(true);
      expect(tokenMatcher(t, FieldKeyword)).toBe(true);
    }
  });

  it('keeps nested-block fields (transforms, evaluation) usable as names', () => {
    for (const f of [...BLOCK_FIELDS.augmentation, ...BLOCK_FIELDS.transform, ...BLOCK_FIELDS.evaluation]) {
      expect(tokenMatcher(lex(f).tokens[0], Identifier), f).toBe(true);
    }
  });

  it('reads dotted names and extends', () => {
    const { tokens, errors } = lex('experiment b extends a { targets [btcv.liver] }');
    expect(errors).toEqual([]);
    expect(tokens.map((t) => t.tokenType.name)).toEqual(['Kw_experiment', 'Identifier', 'Kw_extends', 'Identifier', 'LCurly', 'Kw_targets', 'LBracket', 'Identifier', 'Dot', 'Identifier', 'RBracket', 'RCurly']);
  });

  it('reads numbers in the forms researchers write them', () => {
    const { tokens, errors } = lex('3e-5 0.01 -1 .5 1000 1.5E2');
    expect(errors).toEqual([]);
    expect(tokens.every((t) => tokenMatcher(t, NumberLiteral))).toBe(true);
    expect(tokens.map((t) => Number(t.image))).toEqual([3e-5, 0.01, -1, 0.5, 1000, 150]);
  });

  it('skips // and # and /* */ comments but keeps them in the comments group', () => {
    const { tokens, groups } = lex('a // one\n# two\n/* three\n */ b');
    expect(tokens.map((t) => t.image)).toEqual(['a', 'b']);
    expect(groups.comments.length).toBe(3);
  });

  it('accepts an unterminated string as a string token so parsing can go on', () => {
    const { tokens, errors } = lex('root "abc\nkind unet');
    expect(errors).toEqual([]);
    expect(tokenMatcher(tokens[1], UnterminatedString)).toBe(true);
    expect(tokenMatcher(tokens[1], StringLiteral)).toBe(true);
    expect(tokens[2].image).toBe('kind');
  });

  it('reports unexpected characters with their position', () => {
    const { errors, tokens } = lex('a = b');
    expect(errors.length).toBe(1);
    expect(errors[0].line).toBe(1);
    expect(errors[0].column).toBe(3);
    expect(tokens.map((t) => t.image)).toEqual(['a', 'b']);
  });

  it('has a keyword for every field of a declaration block (nested blocks use plain names)', () => {
    for (const fields of DECLARATION_BLOCKS.map((k) => BLOCK_FIELDS[k])) {
      for (const f of fields) {
        expect(FIELD_WORDS as readonly string[]).toContain(f);
        const [t] = lex(f).tokens;
        expect(tokenMatcher(t, FieldKeyword), f).toBe(true);
      }
    }
  });
});
