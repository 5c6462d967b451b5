/**
 * The TextMate grammar of `.mt` (editors/vscode/syntaxes/mt.tmLanguage.json), built from the
 * Chevrotain token definitions: the keyword lists, and the patterns of comments, strings, numbers
 * and names, so that highlighting and the lexer never drift apart. scripts/textmate-grammar.mjs
 * writes it; a test checks that the committed file is what this builds.
 */
import {
  BlockComment, DECLARATION_WORDS, FIELD_WORDS, Identifier, LineComment, NumberLiteral, TerminatedString,
} from '../compiler/grammar/tokens.js';

/** The scopes the grammar gives each kind of token (the tokenisation test checks files against them). */
export const SCOPES = {
  lineComment: 'comment.line.double-slash.mt',
  hashComment: 'comment.line.number-sign.mt',
  blockComment: 'comment.block.mt',
  string: 'string.quoted.double.mt',
  number: 'constant.numeric.mt',
  boolean: 'constant.language.boolean.mt',
  import: 'keyword.control.import.mt',
  extends: 'storage.modifier.extends.mt',
  declarationKind: 'storage.type.declaration.mt',
  declarationName: 'entity.name.type.mt',
  parentName: 'entity.other.inherited-class.mt',
  field: 'keyword.other.field.mt',
  call: 'entity.name.function.mt',
  name: 'variable.other.mt',
  block: 'punctuation.section.block.mt',
  brackets: 'punctuation.section.brackets.mt',
  parens: 'punctuation.section.parens.mt',
  comma: 'punctuation.separator.comma.mt',
  colon: 'punctuation.separator.colon.mt',
  dot: 'punctuation.accessor.mt',
} as const;

function source(pattern: unknown, token: string): string {
  if (!(pattern instanceof RegExp)) throw new Error(`textmate: the ${token} token has no regular expression pattern`);
  return pattern.source;
}

const words = (list: readonly string[]) => `\\b(?:${[...list].sort((a, b) => b.length - a.length).join('|')})\\b`;

/** A multi-line token `OPEN[\s\S]*?CLOSE` as TextMate's begin/end (TextMate matches one line at a time). */
function beginEnd(pattern: string, token: string): { begin: string; end: string } {
  const m = /^(.+?)\[\\s\\S\]\*\?(.+)$/.exec(pattern);
  if (!m) throw new Error(`textmate: cannot split the ${token} pattern ${pattern} into begin and end`);
  return { begin: m[1], end: m[2] };
}

export interface TextMateGrammar {
  $schema: string;
  name: string;
  scopeName: string;
  fileTypes: string[];
  patterns: Array<{ include: string }>;
  repository: Record<string, unknown>;
}

export function textMateGrammar(): TextMateGrammar {
  const name = source(Identifier.PATTERN, 'Identifier');
  const declarationOnly = DECLARATION_WORDS.filter((w) => !(FIELD_WORDS as readonly string[]).includes(w));
  const lineComment = source(LineComment.PATTERN, 'LineComment');
  const comment = beginEnd(source(BlockComment.PATTERN, 'BlockComment'), 'BlockComment');
  // LineComment is `(?://|#)...`: one rule per opener, for their own scopes.
  const lineBody = lineComment.replace(/^\(\?:\\\/\\\/\|#\)/, '');
  if (lineBody === lineComment) throw new Error(`textmate: the LineComment pattern changed: ${lineComment}`);
  return {
    $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
    name: 'MultiTalent',
    scopeName: 'source.mt',
    fileTypes: ['mt'],
    patterns: ['comments', 'strings', 'numbers', 'declaration', 'extends', 'keywords', 'calls', 'names', 'punctuation'].map((r) => ({ include: `#${r}` })),
    repository: {
      comments: {
        patterns: [
          { name: SCOPES.lineComment, match: `\\/\\/${lineBody}` },
          { name: SCOPES.hashComment, match: `#${lineBody}` },
          { name: SCOPES.blockComment, begin: comment.begin, end: comment.end },
        ],
      },
      strings: { patterns: [{ name: SCOPES.string, match: source(TerminatedString.PATTERN, 'TerminatedString') }, { name: SCOPES.string, match: '"[^"\\n\\r]*$' }] },
      numbers: { patterns: [{ name: SCOPES.number, match: `(?<![A-Za-z0-9_.])${source(NumberLiteral.PATTERN, 'NumberLiteral')}` }] },
      // `KIND NAME {` and `KIND NAME extends ...` (the shape the parser starts a declaration on).
      declaration: {
        patterns: [
          {
            match: `(${words(DECLARATION_WORDS)})\\s+(${name})(?=\\s*(?:\\{|\\bextends\\b))`,
            captures: { 1: { name: SCOPES.declarationKind }, 2: { name: SCOPES.declarationName } },
          },
        ],
      },
      extends: { patterns: [{ match: `\\b(extends)\\s+(${name})`, captures: { 1: { name: SCOPES.extends }, 2: { name: SCOPES.parentName } } }] },
      keywords: {
        patterns: [
          { name: SCOPES.import, match: '\\bimport\\b' },
          { name: SCOPES.extends, match: '\\bextends\\b' },
          { name: SCOPES.boolean, match: '\\b(?:true|false)\\b' },
          { name: SCOPES.declarationKind, match: words(declarationOnly) },
          { name: SCOPES.field, match: words(FIELD_WORDS) },
        ],
      },
      calls: { patterns: [{ match: `(${name})(?=\\s*\\()`, captures: { 1: { name: SCOPES.call } } }] },
      names: { patterns: [{ name: SCOPES.name, match: name }] },
      punctuation: {
        patterns: [
          { name: SCOPES.block, match: '[{}]' },
          { name: SCOPES.brackets, match: '[\\[\\]]' },
          { name: SCOPES.parens, match: '[()]' },
          { name: SCOPES.comma, match: ',' },
          { name: SCOPES.colon, match: ':' },
          { name: SCOPES.dot, match: '\\.' },
        ],
      },
    },
  };
}

/** The grammar file's text, as committed. */
export function textMateGrammarJson(): string {
  return `${JSON.stringify(textMateGrammar(), null, 2)}\n`;
}
