import { DIAGNOSTIC_CODES, explain } from '../../compiler/index.js';
import { closest } from '../../compiler/suggest.js';
import type { CliIO } from '../io.js';

/** `mtc explain CODE`: the long explanation of a diagnostic code, with an example. */
export async function explainCommand(code: string, _options: Record<string, never>, io: CliIO): Promise<number> {
  const text = explain(code);
  if (text === null) {
    const s = closest(code.toUpperCase(), Object.keys(DIAGNOSTIC_CODES));
    io.err(`mtc explain: unknown code '${code}'${s ? `; did you mean ${s}?` : ''} (codes look like MT0201)`);
    return 1;
  }
  io.out(text);
  return 0;
}
