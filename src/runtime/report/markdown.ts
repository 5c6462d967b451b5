/** The Markdown summary that accompanies the HTML report: averages, per-class tables, comparisons. */
import { compareRuns } from './compare.js';
import { type RunData, describeRun } from './load.js';

const d4 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(4));
const mm = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v === Infinity ? 'inf' : v.toFixed(2));
const signed = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(4)}`);
const cell = (s: string) => s.replace(/\|/g, '\\|');

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

export function renderMarkdownReport(runs: RunData[], generatedAt = new Date()): string {
  const out: string[] = [`# mtc report: ${runs.map((r) => r.name).join(', ')}`, '', `Generated ${generatedAt.toISOString()}. The HTML report next to this file has the plots.`, ''];
  out.push('## Summary', '');
  const rows = runs.flatMap((r) =>
    (r.metrics?.summaries ?? []).map((s) => [r.name, s.stage, d4(s.classAverage), d4(s.datasetAverage), s.groups.map((g) => `${g.name} ${d4(g.dice)}`).join(', ') || '-']),
  );
  out.push(...table(['run', 'evaluation', 'class average Dice', 'dataset average Dice', 'groups'], rows), '');
  for (const r of runs) {
    out.push(`- ${describeRun(r)} (${r.dir})`);
  }
  out.push('');
  out.push('## Per-class results', '');
  for (const r of runs) {
    for (const e of r.metrics?.evaluations ?? []) {
      const withHd = e.classes.some((c) => c.hd95 !== undefined);
      out.push(`### ${r.name} · ${e.stage}`, '');
      out.push(
        ...table(
          ['dataset', 'class', 'cases (defined)', 'Dice', ...(withHd ? ['HD95 (mm)'] : [])],
          e.classes.map((c) => {
            const v = Object.values(c.perCase);
            return [c.dataset, c.name, `${v.filter((x) => x !== null).length}/${v.length}`, d4(c.dice), ...(withHd ? [mm(c.hd95)] : [])];
          }),
        ),
        '',
      );
    }
  }
  const comps = compareRuns(runs);
  if (comps.length > 0) {
    out.push('## Comparisons (paired, run - baseline)', '');
    for (const c of comps) {
      out.push(`### ${c.other}`, '', `Baseline: ${c.baseline}`, '');
      out.push(
        ...table(
          ['dataset', 'class', 'paired cases', 'baseline', 'run', 'delta Dice', 'better/tied/worse', 'Wilcoxon p'],
          c.classes.map((k) => [k.dataset, k.name, String(k.n), d4(k.baseline), d4(k.other), signed(k.diff), `${k.better}/${k.ties}/${k.worse}`, k.p === null ? 'n/a' : k.p.toPrecision(2)]),
        ),
        '',
        `Delta class average ${signed(c.classAverageDiff)}, delta dataset average ${signed(c.datasetAverageDiff)}.`,
        '',
      );
    }
  }
  return `${out.join('\n')}\n`;
}
