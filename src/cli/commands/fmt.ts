import { readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatSource, renderDiagnostics, summarize } from '../../compiler/index.js';
import type { CliIO } from '../io.js';

export interface FmtOptions {
  /** Report files that are not formatted (exit 1) instead of rewriting them. */
  check: boolean;
}

/** `mtc fmt [--check] FILE…`: rewrites files in the canonical layout (comments kept); files with syntax errors are left alone (exit 1). */
export async function fmtCommand(files: string[], options: FmtOptions, io: CliIO): Promise<number> {
  let failed = false;
  const unformatted: string[] = [];
  for (const file of files) {
    const path = resolve(io.cwd, file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      io.err(`mtc fmt: cannot read '${file}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e)}`);
      failed = true;
      continue;
    }
    const r = formatSource(file, text);
    if (r.text === null) {
      io.err(renderDiagnostics(r.diagnostics, { sources: new Map([[file, text]]) }, { color: io.isTTY, summary: false }));
      io.err(`mtc fmt: ${file} has syntax errors (${summarize(r.diagnostics)}); not formatted`);
      failed = true;
      continue;
    }
    if (r.text === text) continue;
    unformatted.push(file);
    if (!options.check) {
      const tmp = `${path}.mtfmt.tmp`;
      await writeFile(tmp, r.text);
      await rename(tmp, path);
    }
  }
  if (options.check) {
    for (const f of unformatted) io.out(f);
    io.err(unformatted.length === 0 ? `ok: ${files.length} file(s) formatted` : `${unformatted.length} file(s) need formatting (run mtc fmt)`);
    return failed || unformatted.length > 0 ? 1 : 0;
  }
  for (const f of unformatted) io.out(`formatted ${f}`);
  return failed ? 1 : 0;
}
