/**
 * Tokens of the `.mt` language.
 *
 * Words that name a declaration kind or a field are keywords (reserved: they cannot name a
 * dataset, architecture, ...). Option words such as `CT`, `unet`, `sgd`, `poly`, `heads`, `rest`
 * are plain identifiers, checked by the checker, so that misspellings get a did-you-mean.
 * To add a field to the language, add its word to FIELD_WORDS (and teach the checker).
 */
import type { TokenType } from 'chevrotain';
import { createToken, Lexer } from './chevrotain.js';

/** Words that start a top-level declaration. */
export const DECLARATION_WORDS = ['dataset', 'classset', 'architecture', 'schedule', 'sampling', 'augmentation', 'experiment', 'family'] as const;

/** Words that name a field inside a block (some, like `architecture`, are both). */
export const FIELD_WORDS = [
  // dataset
  'root', 'modality', 'cases', 'synthetic', 'seed', 'classes', 'tags', 'labels', 'split',
  // class set
  'exclude',
  // architecture
  'kind', 'patch', 'features', 'strides', 'stages', 'blocks', 'kernels', 'deep_supervision', 'feature_size',
  'padding', 'residual_skip', 'conv_bias', 'upsample_bias', 'head_bias', 'decoder_kernels',
  // schedule
  'optimizer', 'lr', 'epochs', 'iterations', 'clip', 'phase', 'validation', 'checkpoint_every',
  // experiment
  'datasets', 'architecture', 'schedule', 'batch', 'sampling', 'foreground', 'spacing', 'pretrained',
  'augmentation', 'folds', 'precision', 'loss', 'evaluation', 'targets', 'allow_leakage', 'report',
] as const;

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: 'LineComment', pattern: /(?:\/\/|#)[^\n\r]*/, group: 'comments' });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: 'comments', line_breaks: true });
/** `/*` without its `*\/`: reported by the lexer stage, runs to the end of the file. */
export const UnterminatedComment = createToken({ name: 'UnterminatedComment', pattern: /\/\*[\s\S]*/, group: 'comments', line_breaks: true });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

/** Categories: any keyword, declaration keywords, field keywords. */
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA });
export const DeclKeyword = createToken({ name: 'DeclKeyword', pattern: Lexer.NA });
export const FieldKeyword = createToken({ name: 'FieldKeyword', pattern: Lexer.NA });

function keyword(word: string, categories: TokenType[]): TokenType {
  return createToken({
    name: `Kw_${word}`,
    label: `'${word}'`,
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: [Keyword, ...categories],
  });
}

export const Import = keyword('import', []);
export const Extends = keyword('extends', []);
export const True = keyword('true', []);
export const False = keyword('false', []);

// Longest first: the lexer takes the first pattern that matches, so `datasets` must precede `dataset`.
const allWords = [...new Set<string>([...DECLARATION_WORDS, ...FIELD_WORDS])].sort((a, b) => b.length - a.length);
/** Keyword token per word. */
export const keywordTokens: ReadonlyMap<string, TokenType> = new Map(
  allWords.map((w) => {
    const cats: TokenType[] = [];
    if ((DECLARATION_WORDS as readonly string[]).includes(w)) cats.push(DeclKeyword);
    if ((FIELD_WORDS as readonly string[]).includes(w)) cats.push(FieldKeyword);
    return [w, keyword(w, cats)] as const;
  }),
);

/** Reserved words: keywords plus the literals. */
export const RESERVED_WORDS: readonly string[] = ['import', 'extends', 'true', 'false', ...allWords];

export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  label: 'a number',
  pattern: /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/,
});
export const StringLiteral = createToken({ name: 'StringLiteral', label: 'a string', pattern: Lexer.NA });
export const TerminatedString = createToken({
  name: 'TerminatedString',
  label: 'a string',
  pattern: /"(?:[^"\\\n\r]|\\.)*"/,
  categories: [StringLiteral],
});
/** `"` without its closing quote on the same line: accepted as a string (so parsing goes on) and reported. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  label: 'a string',
  pattern: /"(?:[^"\\\n\r]|\\.)*(?:\\)?/,
  categories: [StringLiteral],
});

export const LCurly = createToken({ name: 'LCurly', label: "'{'", pattern: /\{/ });
export const RCurly = createToken({ name: 'RCurly', label: "'}'", pattern: /\}/ });
export const LBracket = createToken({ name: 'LBracket', label: "'['", pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', label: "']'", pattern: /\]/ });
export const LParen = createToken({ name: 'LParen', label: "'('", pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', label: "')'", pattern: /\)/ });
export const Comma = createToken({ name: 'Comma', label: "','", pattern: /,/ });
export const Colon = createToken({ name: 'Colon', label: "':'", pattern: /:/ });
export const Dot = createToken({ name: 'Dot', label: "'.'", pattern: /\./ });

/** Lexer order matters: comments before anything starting with `/`, keywords before Identifier. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  TerminatedString,
  UnterminatedString,
  NumberLiteral,
  Import,
  Extends,
  True,
  False,
  ...keywordTokens.values(),
  Keyword,
  DeclKeyword,
  FieldKeyword,
  StringLiteral,
  Identifier,
  LCurly,
  RCurly,
  LBracket,
  RBracket,
  LParen,
  RParen,
  Comma,
  Colon,
  Dot,
];

export const mtLexer = new Lexer(allTokens, {
  positionTracking: 'full',
  ensureOptimizations: false,
  recoveryEnabled: true,
});
