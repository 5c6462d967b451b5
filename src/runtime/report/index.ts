/** Writing the report of run folders: `report.html` (plots) and a Markdown summary next to it. */
import { writeFileAtomic } from '../io/atomic.js';
import { renderHtmlReport } from './html.js';
import { type RunData, loadRun } from './load.js';
import { renderMarkdownReport } from './markdown.js';

export type { RunData } from './load.js';

/** The Markdown file next to an HTML report: `x.html` -> `x.md`. */
export function markdownPathFor(htmlPath: string): string {
  return htmlPath.endsWith('.html') ? `${htmlPath.slice(0, -'.html'.length)}.md` : `${htmlPath}.md`;
}

/** Writes the report of `runs` to `htmlPath` and its Markdown summary beside it; returns both paths. */
export async function writeReport(runs: RunData[], htmlPath: string): Promise<{ html: string; markdown: string }> {
  const now = new Date();
  const markdown = markdownPathFor(htmlPath);
  await writeFileAtomic(htmlPath, renderHtmlReport(runs, now));
  await writeFileAtomic(markdown, renderMarkdownReport(runs, now));
  return { html: htmlPath, markdown };
}

/** Loads the run folders and writes their report. */
export async function reportRuns(dirs: string[], htmlPath: string): Promise<{ html: string; markdown: string; runs: RunData[] }> {
  const runs: RunData[] = [];
  for (const d of dirs) runs.push(await loadRun(d));
  return { ...(await writeReport(runs, htmlPath)), runs };
}
