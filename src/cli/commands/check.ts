import { checkProgram, diagnosticToJson, hasErrors, loadProgram, renderDiagnostics, summarize, type Diagnostic } from '../../compiler/index.js';
import { count } from '../../compiler/words.js';
import { argPath, type CliIO } from '../io.js';

export interface CheckOptions {
  format: 'text' | 'json';
}

/**
 * `mtc check FILE…`: every diagnostic of every file; exit 1 on any error.
 * With --format json, stdout holds one object: { files, diagnostics: [{ code, severity, file, range, message, hint }], errors, warnings }.
 */
export async function checkCommand(files: string[], options: CheckOptions, io: CliIO): Promise<number> {
  let failed = false;
  const all: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const program = await loadProgram(argPath(io, file));
    const { diagnostics } = checkProgram(program);
    // A file imported by several checked files reports its problems once.
    const fresh = diagnostics.filter((d) => {
      const key = `${d.code}|${d.span.file}|${d.span.start.offset}|${d.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    all.push(...fresh);
    if (hasErrors(fresh)) failed = true;
    if (options.format === 'text' && fresh.length > 0) {
      io.err(renderDiagnostics(fresh, program, { color: io.isTTY, summary: false }));
    }
  }
  const errors = all.filter((d) => d.severity === 'error').length;
  const warnings = all.length - errors;
  if (options.format === 'json') {
    io.out(JSON.stringify({ files, diagnostics: all.map(diagnosticToJson), errors, warnings }, null, 2));
  } else {
    io.err(
      (all.length > 0 ? '\n' : '') +
      (failed
        ? `${summarize(all)} in ${count(files.length, 'file')}`
        : `ok: ${count(files.length, 'file')} checked${warnings ? `, ${count(warnings, 'warning')}` : ''}`),
    );
  }
  return failed ? 1 : 0;
}
