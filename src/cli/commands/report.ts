import { resolve } from 'node:path';
import { reportRuns } from '../../runtime/report/index.js';
import type { CliIO } from '../io.js';

export interface ReportCommandOptions {
  output?: string;
}

/** `mtc report RUN... [-o FILE]`: the HTML report (and its Markdown summary) of run folders. */
export async function reportCommand(dirs: string[], options: ReportCommandOptions, io: CliIO): Promise<number> {
  const runDirs = dirs.map((d) => resolve(io.cwd, d));
  const out = resolve(io.cwd, options.output ?? `${runDirs[0]}/report.html`);
  const { html, markdown, runs } = await reportRuns(runDirs, out);
  io.out(`mtc report: ${runs.map((r) => r.name).join(', ')} -> ${html} (summary: ${markdown})`);
  return 0;
}
