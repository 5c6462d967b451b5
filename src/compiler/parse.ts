/** Text -> AST plus diagnostics, for one file. Pure; never throws on any input. */
import type { IRecognitionException, IToken } from 'chevrotain';
import { tokenMatcher } from './grammar/chevrotain.js';
import type { FileAst } from './ast.js';
import { AstBuilder } from './cst-to-ast.js';
import { DiagnosticSink, type Diagnostic } from './diagnostics.js';
import { mtLexer, UnterminatedComment, UnterminatedString } from './grammar/tokens.js';
import { mtParser, startsTopLevel } from './grammar/parser.js';
import { decodeParseMessage, describeToken, setMessageContext } from './grammar/messages.js';
import { limitNesting, MAX_NESTING } from './grammar/nesting.js';
import { endOfFileSpan, hasPosition, spanAt, tokenSpan, type Span } from './source.js';

export interface ParseResult {
  ast: FileAst;
  diagnostics: Diagnostic[];
  /** Comment tokens (kept for a future formatter). */
  comments: IToken[];
}

/** Stop reporting lexer errors after this many in one file (binary junk would produce thousands). */
const MAX_LEXER_ERRORS = 20;
/** Stop restarting the parser after this many top-level recoveries in one file. */
const MAX_RESTARTS = 200;

function printable(s: string): string {
  return [...s]
    .map((c) => {
      const code = c.codePointAt(0) ?? 0;
      return code < 32 || code === 127 ? `\\x${code.toString(16).padStart(2, '0')}` : c;
    })
    .join('');
}

function looksBinary(text: string): boolean {
  if (text.includes('\u0000')) return true;
  // Replacement characters from a failed UTF-8 decode, in quantity.
  let bad = 0;
  for (let i = 0; i < text.length && i < 4096; i++) if (text.charCodeAt(i) === 0xfffd) bad++;
  return bad > 8;
}

export function parseSource(file: string, text: string): ParseResult {
  const ast: FileAst = { path: file, imports: [], declarations: [] };
  const sink = new DiagnosticSink();
  if (looksBinary(text)) {
    sink.error('MT0004', spanAt(file, text, 0, 0), 'this does not look like a text file (it contains NUL bytes or invalid UTF-8)', 'an .mt file is plain UTF-8 text; check that the path points at the right file');
    return { ast, diagnostics: sink.items, comments: [] };
  }
  if (text.trim().length === 0) {
    sink.warning('MT0005', spanAt(file, text, 0, 0), 'the file is empty', 'declare a dataset, architecture, schedule or experiment, or import another file');
    return { ast, diagnostics: sink.items, comments: [] };
  }

  const lexed = mtLexer.tokenize(text);
  let lexErrors = 0;
  for (const e of lexed.errors) {
    if (lexErrors === MAX_LEXER_ERRORS) {
      sink.error('MT0101', spanAt(file, text, e.offset, e.length), 'too many unexpected characters; stopping here', 'is this really an .mt file?');
      lexErrors++;
      break;
    }
    lexErrors++;
    const chars = text.slice(e.offset, e.offset + e.length);
    sink.error('MT0101', spanAt(file, text, e.offset, e.length), `unexpected character${e.length > 1 ? 's' : ''} '${printable(chars)}'`, chars.includes('=') ? "fields are written 'name value' without '='" : chars.includes(';') ? "no ';' is needed: fields are separated by spaces or new lines" : undefined);
  }
  const comments = lexed.groups.comments ?? [];
  for (const c of comments) {
    if (tokenMatcher(c, UnterminatedComment)) sink.error('MT0102', tokenSpan(file, c), "unterminated comment: '/*' has no closing '*/'", "add '*/' where the comment should end");
  }
  for (const t of lexed.tokens) {
    if (tokenMatcher(t, UnterminatedString)) sink.error('MT0102', tokenSpan(file, t), 'unterminated string: the closing \'"\' is missing on this line', 'strings cannot span lines; close the quote');
  }
  // The parser recurses once per level of brackets: deeper input is cut out here and reported.
  const nesting = limitNesting(lexed.tokens);
  for (const t of nesting.tooDeep) {
    sink.error('MT0107', tokenSpan(file, t), `${describeToken(t)} opens a level of nesting deeper than ${MAX_NESTING}; everything inside it is skipped`, `brackets and blocks nest at most ${MAX_NESTING} levels deep; .mt values need a few (kernels [[1, 3, 3], [3, 3, 3]])`);
  }
  const tokens = nesting.tokens;

  const builder = new AstBuilder(file);
  let start = 0;
  for (let round = 0; round < MAX_RESTARTS && start < tokens.length; round++) {
    const slice = tokens.slice(start);
    setMessageContext(slice);
    mtParser.input = slice;
    const cst = mtParser.file();
    const errors: IRecognitionException[] = [...mtParser.errors];
    builder.build(cst, ast);
    let restartAt = -1;
    for (const err of errors) {
      const m = decodeParseMessage(err.message);
      sink.error(m.code, errorSpan(file, text, err.token), m.message, m.hint);
      if (err.name === 'NotAllInputParsedException') {
        const i = slice.indexOf(err.token);
        restartAt = i < 0 ? -1 : start + i;
      }
    }
    if (restartAt < 0) break;
    // Skip to the next token that can start a declaration or import, then parse again from there.
    let next = restartAt + 1;
    const la = (k: number) => tokens[next + k - 1] ?? tokens[tokens.length - 1];
    while (next < tokens.length && !startsTopLevel(la)) next++;
    start = next;
  }
  setMessageContext([]);
  return { ast, diagnostics: sink.items, comments };
}

function errorSpan(file: string, text: string, token: IToken | undefined): Span {
  if (token !== undefined && hasPosition(token) && !token.isInsertedInRecovery) return tokenSpan(file, token);
  return endOfFileSpan(file, text);
}
