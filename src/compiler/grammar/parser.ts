/**
 * The `.mt` grammar (Chevrotain CstParser, error recovery on).
 *
 *   file        := (importDecl | declaration)*
 *   importDecl  := 'import' STRING
 *   declaration := KIND NAME? ('extends' NAME)? block
 *                  KIND: dataset | classset | architecture | schedule | sampling | augmentation | experiment | family
 *   block       := '{' entry* '}'
 *   entry       := KEY value? block?               e.g.  patch [32, 32, 32]   classes { ... }   phase heads { ... }
 *   value       := NUMBER | STRING | true | false | list | reference
 *   list        := '[' (value (',' value)* ','?)? ']'
 *   reference   := NAME ('.' NAME)* ('(' (arg (',' arg)* ','?)? ')')?     e.g. btcv.liver
 *   arg         := (NAME ':')? value
 *
 * The grammar is deliberately uniform: what each block may contain is the checker's business,
 * which lets unknown fields, wrong types and misspelled options all get precise, named errors
 * (with did-you-mean) instead of token-level complaints. Unknown declaration kinds and unknown
 * field names parse as identifiers for the same reason.
 */
import type { IToken } from 'chevrotain';
import { CstParser, tokenMatcher } from './chevrotain.js';
import {
  allTokens, Colon, Comma, DeclKeyword, Dot, Extends, False, FieldKeyword, Identifier, Import, Keyword, LBracket, LCurly,
  LParen, NumberLiteral, RBracket, RCurly, RParen, StringLiteral, True,
} from './tokens.js';
import { mtErrorMessageProvider } from './messages.js';

/**
 * True when the tokens at `la(1..3)` start a top-level construct: `import "..."`, `KIND NAME {`,
 * or a misspelled kind at column 1 (`datset liver {`). Blocks stop there, so a missing `}` is
 * reported where it is missing instead of swallowing the next declaration.
 */
export function startsTopLevel(la: (i: number) => IToken): boolean {
  const t1 = la(1);
  if (tokenMatcher(t1, Import) && tokenMatcher(la(2), StringLiteral)) return true;
  const declShape = tokenMatcher(la(2), Identifier) && (tokenMatcher(la(3), LCurly) || tokenMatcher(la(3), Extends));
  if (!declShape) return false;
  if (tokenMatcher(t1, DeclKeyword)) return true;
  return tokenMatcher(t1, Identifier) && t1.startColumn === 1;
}

export class MtParser extends CstParser {
  constructor() {
    super(allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: 'full',
      errorMessageProvider: mtErrorMessageProvider,
    });
    this.performSelfAnalysis();
  }

  public file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.importDecl) },
        { ALT: () => this.SUBRULE(this.declaration) },
      ]);
    });
  });

  public importDecl = this.RULE('importDecl', () => {
    this.CONSUME(Import);
    this.CONSUME(StringLiteral, { LABEL: 'path' });
  });

  public declaration = this.RULE('declaration', () => {
    this.OR([
      { ALT: () => this.CONSUME(DeclKeyword, { LABEL: 'kind' }) },
      { ALT: () => this.CONSUME(Identifier, { LABEL: 'kind' }) },
    ]);
    // Keywords are accepted here so that `dataset patch { ... }` parses; the checker reports the reserved word.
    this.OPTION(() =>
      this.OR2([
        { ALT: () => this.CONSUME2(Identifier, { LABEL: 'name' }) },
        { ALT: () => this.CONSUME(Keyword, { LABEL: 'name' }) },
      ]),
    );
    this.OPTION2(() => {
      this.CONSUME(Extends);
      this.CONSUME3(Identifier, { LABEL: 'parent' });
    });
    this.SUBRULE(this.block);
  });

  public block = this.RULE('block', () => {
    this.CONSUME(LCurly);
    this.MANY({
      GATE: () => !startsTopLevel((i) => this.LA(i)),
      DEF: () => this.SUBRULE(this.entry),
    });
    this.CONSUME(RCurly);
  });

  public entry = this.RULE('entry', () => {
    this.OR([
      { ALT: () => this.CONSUME(FieldKeyword, { LABEL: 'key' }) },
      { ALT: () => this.CONSUME(Identifier, { LABEL: 'key' }) },
    ]);
    this.OPTION(() => this.SUBRULE(this.value));
    this.OPTION2(() => this.SUBRULE(this.block));
  });

  public value = this.RULE('value', () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(StringLiteral) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.reference) },
    ]);
  });

  public list = this.RULE('list', () => {
    this.CONSUME(LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.value);
      this.MANY({
        GATE: () => !tokenMatcher(this.LA(2), RBracket),
        DEF: () => {
          this.CONSUME(Comma);
          this.SUBRULE2(this.value);
        },
      });
      this.OPTION2(() => this.CONSUME2(Comma));
    });
    this.CONSUME(RBracket);
  });

  public reference = this.RULE('reference', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.MANY2(() => {
      this.CONSUME(Dot);
      this.CONSUME2(Identifier, { LABEL: 'member' });
    });
    this.OPTION(() => {
      this.CONSUME(LParen);
      this.OPTION2(() => {
        this.SUBRULE(this.arg);
        this.MANY({
          GATE: () => !tokenMatcher(this.LA(2), RParen),
          DEF: () => {
            this.CONSUME(Comma);
            this.SUBRULE2(this.arg);
          },
        });
        this.OPTION3(() => this.CONSUME2(Comma));
      });
      this.CONSUME(RParen);
    });
  });

  public arg = this.RULE('arg', () => {
    this.OPTION({
      GATE: () => tokenMatcher(this.LA(2), Colon),
      DEF: () => {
        this.OR([
          { ALT: () => this.CONSUME(Identifier, { LABEL: 'name' }) },
          { ALT: () => this.CONSUME(FieldKeyword, { LABEL: 'name' }) },
        ]);
        this.CONSUME(Colon);
      },
    });
    this.SUBRULE(this.value);
  });
}

/** The one parser instance (Chevrotain parsers are reusable: set `input`, call a rule). */
export const mtParser = new MtParser();

/** Serialized grammar for syntax diagrams (scripts/grammar-diagrams.mjs). */
export function serializedGrammar(): ReturnType<MtParser['getSerializedGastProductions']> {
  return mtParser.getSerializedGastProductions();
}
