import { resolve } from 'node:path';
import { type FolderEvaluation, evaluateFolder } from '../../runtime/eval/folder.js';
import { stringifyMetrics } from '../../runtime/eval/summary.js';
import { UserError, type CliIO } from '../io.js';

export interface EvalCommandOptions {
  dataset?: string;
  json?: boolean;
  hd95: boolean;
  /** `NAME=class,class` (repeatable). */
  group?: string[];
}

const d4 = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toFixed(4));
const mm = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v === Infinity ? 'inf' : v.toFixed(2));

function table(rows: string[][], right: number[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
}

/** The evaluation as text lines (what `mtc eval` prints without --json). */
export function evaluationLines(r: FolderEvaluation): string[] {
  const withHd = r.classes.some((c) => c.hd95 !== undefined);
  const nCases = new Set(r.cases.map((c) => `${c.fold ?? ''}/${c.case}`)).size;
  const out = [`mtc eval: ${nCases} case(s) x ${r.classes.length} class(es) of ${r.dataset} (${r.datasetJson})`];
  const header = ['class', 'labels', 'cases', 'Dice', ...(withHd ? ['HD95 mm'] : [])];
  const rows = r.classes.map((c) => [
    c.class,
    c.labels.join(','),
    `${c.defined}/${c.cases}`,
    d4(c.dice),
    ...(withHd ? [`${mm(c.hd95)}${c.hd95Infinite ? ` (${c.hd95Infinite} inf)` : ''}`] : []),
  ]);
  out.push(...table([header, ...rows], [2, 3, 4]).map((l) => `  ${l}`));
  const s = r.summary;
  out.push(`  class average ${d4(s.classAverage)}, dataset average ${d4(s.datasetAverage)}${withHd ? `; HD95 class average ${mm(s.hd95ClassAverage)} mm` : ''}`);
  for (const g of s.groups) out.push(`  group ${g.name}: ${d4(g.dice)} (${g.classes} class${g.classes === 1 ? '' : 'es'})${withHd ? `, HD95 ${mm(g.hd95)} mm` : ''}`);
  if (r.crossValidation) {
    const cv = r.crossValidation;
    out.push(`  cross-validation over folds ${cv.folds.join(', ')} (Dice per fold, mean ± std over folds, pooled over all cases):`);
    const cvRows = cv.classes.map((c) => [c.name, ...c.perFold.map(d4), `${d4(c.mean)} ± ${d4(c.std)}`, d4(c.pooled)]);
    out.push(...table([['class', ...cv.folds.map((f) => `fold ${f}`), 'mean ± std', 'pooled'], ...cvRows], cv.folds.map((_, i) => i + 1)).map((l) => `    ${l}`));
    out.push(`    class average ${d4(cv.classAverage.mean)} ± ${d4(cv.classAverage.std)}, dataset average ${d4(cv.datasetAverage.mean)} ± ${d4(cv.datasetAverage.std)}`);
  }
  if (withHd) out.push('  HD95: 95th percentiles of surface distances (6-neighbour surfaces, mm), the larger direction; n/a when both masks are empty, inf when one is; means skip n/a');
  if (r.unmatched.length > 0) out.push(`  note: ${r.unmatched.length} prediction(s) without a reference were ignored (${r.unmatched.slice(0, 3).join(', ')}${r.unmatched.length > 3 ? ', ...' : ''})`);
  return out;
}

function parseGroups(specs: string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of specs ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(s);
    if (!m) throw new UserError(`--group: '${s}' must be NAME=class,class (e.g. cancer=tumour)`);
    out[m[1].trim()] = m[2].split(',').map((c) => c.trim()).filter(Boolean);
  }
  return out;
}

/** `mtc eval PRED_DIR GT_DIR [--dataset DIR] [--json]`. */
export async function evalCommand(predDir: string, gtDir: string, options: EvalCommandOptions, io: CliIO): Promise<number> {
  const result = await evaluateFolder(resolve(io.cwd, predDir), resolve(io.cwd, gtDir), {
    dataset: options.dataset ? resolve(io.cwd, options.dataset) : undefined,
    hd95: options.hd95,
    groups: parseGroups(options.group),
  });
  if (options.json) {
    const { cases, classes, summary, crossValidation, dataset, datasetJson, predictions, references, unmatched } = result;
    io.out(stringifyMetrics({ cases, classes, summary, ...(crossValidation ? { crossValidation } : {}), dataset, datasetJson, predictions, references, unmatched }));
  } else {
    for (const l of evaluationLines(result)) io.out(l);
  }
  return 0;
}
