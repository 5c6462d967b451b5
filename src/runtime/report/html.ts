/**
 * The HTML report of one or more runs: one self-contained page (inline CSS and SVG; no scripts, no
 * fonts, no network references) with
 *   - the summary (class and dataset averages, class groups) and software versions;
 *   - loss and learning-rate curves per trained stage, its phases shaded;
 *   - validation pseudo-Dice over epochs (when the run recorded it);
 *   - per-class Dice (and HD95) tables and per-dataset box plots of per-case Dice (the paper's Fig. 2);
 *   - paired comparisons of every further run with the first (Δ Dice per class, Wilcoxon p);
 *   - the resolved spec (graph.yaml) of each run and the stage timings.
 */
import { escapeXml as esc, SERIES_COLOURS, boxPlot, differenceChart, lineChart } from './svg.js';
import { compareRuns } from './compare.js';
import type { RunData } from './load.js';
import type { SoftwareVersions } from '../version.js';

const d4 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(4));
const mm = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v === Infinity ? '∞' : v.toFixed(2));
const signed = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(4)}`);

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto; max-width: 1180px; color: #1a1a1a; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; } p.note, .muted { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f6f6f6; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } svg.chart { border: 1px solid #e3e3e3; border-radius: 4px; }
pre { background: #f7f7f7; padding: 10px; overflow-x: auto; font-size: 12px; max-height: 480px; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; }
.pos { color: #1b7f2a; } .neg { color: #b3261e; }
`;

function table(header: string[], rows: string[][], numeric: number[] = []): string {
  const th = header.map((h, i) => `<th${numeric.includes(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function versionsOf(run: RunData): SoftwareVersions | null {
  return run.metrics?.versions ?? run.trained.at(-1)?.plans?.versions ?? null;
}

function summarySection(runs: RunData[]): string {
  const rows = runs.flatMap((r) =>
    (r.metrics?.summaries ?? []).map((s) => [
      esc(r.name),
      esc(s.stage),
      d4(s.classAverage),
      d4(s.datasetAverage),
      s.groups.length > 0 ? s.groups.map((g) => `${esc(g.name)} ${d4(g.dice)} (${g.classes})`).join('<br>') : '—',
      s.hd95ClassAverage !== undefined ? mm(s.hd95ClassAverage) : '—',
    ]),
  );
  const versions = runs.map((r) => {
    const v = versionsOf(r);
    return [esc(r.name), esc(r.dir), v ? esc(`mtc ${v.mtc}, Node.js ${v.node}, TensorFlow.js ${v.tfjs}, backend ${v.backend}`) : 'not recorded', esc(r.metrics?.writtenAt ?? '')];
  });
  return (
    `<h2 id="summary">Summary</h2>` +
    (rows.length > 0
      ? table(['run', 'evaluation', 'class average Dice', 'dataset average Dice', 'class groups', 'HD95 class average (mm)'], rows, [2, 3, 5])
      : '<p class="note">No evaluation in these runs (metrics.json missing).</p>') +
    '<p class="note">Class average: every class counts once. Dataset average: the mean of each dataset\'s class mean (the paper\'s fair average). Dice is n/a where prediction and reference are both empty; means skip those cases.</p>' +
    `<h3>Runs and software</h3>${table(['run', 'folder', 'software', 'metrics written'], versions)}`
  );
}

function curvesSection(runs: RunData[]): string {
  let html = '<h2 id="training">Training curves</h2>';
  let any = false;
  let pseudo = '';
  for (const r of runs) {
    for (const t of r.trained) {
      const h = t.history;
      if (!h || h.epochs.length === 0) continue;
      any = true;
      const bands = h.phases.map((p) => {
        const eps = h.epochs.filter((e) => e.phase === p.index).map((e) => e.epoch);
        return { from: Math.min(...eps) - 0.5, to: Math.max(...eps) + 0.5, label: `phase ${p.index + 1}: ${p.trains === 'heads' ? 'heads' : 'all'}` };
      }).filter((b) => Number.isFinite(b.from));
      const title = `${r.name} · ${t.stage}`;
      const loss = lineChart({ title: `${title}: training loss`, xLabel: 'epoch', yLabel: 'mean loss', series: [{ name: 'loss', points: h.epochs.map((e) => [e.epoch, e.loss]) }], bands });
      const positiveLr = h.epochs.every((e) => e.lr > 0);
      const lr = lineChart({
        title: `${title}: learning rate`,
        xLabel: 'epoch',
        yLabel: positiveLr ? 'learning rate (log)' : 'learning rate',
        series: [{ name: 'lr', points: h.epochs.map((e) => [e.epoch, e.lr]), colour: SERIES_COLOURS[3] }],
        bands,
        logY: positiveLr,
      });
      html += `<h3>${esc(title)}</h3><div class="charts">${loss}${lr}</div>`;
      html += `<p class="note">${h.epochs.length} epochs × ${h.iterationsPerEpoch} iterations, ${h.seconds.toFixed(0)} s.</p>`;
      const pd = h.epochs.filter((e) => typeof e.pseudoDice === 'number');
      if (pd.length > 0) {
        pseudo += `<div class="charts">${lineChart({
          title: `${title}: validation pseudo-Dice`,
          xLabel: 'epoch',
          yLabel: 'pseudo-Dice',
          series: [{ name: 'pseudo-Dice', points: pd.map((e) => [e.epoch, e.pseudoDice as number]), colour: SERIES_COLOURS[2] }],
          bands,
        })}</div>`;
      }
    }
  }
  if (!any) html += '<p class="note">No training history in these runs (history.json next to each checkpoint).</p>';
  html += '<h2 id="pseudo-dice">Pseudo-Dice over epochs</h2>';
  html += pseudo || '<p class="note">Not recorded: these runs did not measure validation pseudo-Dice during training.</p>';
  return html;
}

function classSection(runs: RunData[]): string {
  let html = '<h2 id="classes">Per-class results</h2>';
  for (const r of runs) {
    for (const e of r.metrics?.evaluations ?? []) {
      const withHd = e.classes.some((c) => c.hd95 !== undefined);
      const rows = e.classes.map((c) => {
        const vals = Object.values(c.perCase);
        const defined = vals.filter((v) => v !== null).length;
        const inf = Object.values(c.perCaseHd95 ?? {}).filter((v) => v === Infinity).length;
        return [esc(c.dataset), esc(c.name), `${defined}/${vals.length}`, d4(c.dice), ...(withHd ? [`${mm(c.hd95)}${inf ? ` (${inf} ∞)` : ''}`] : [])];
      });
      html += `<h3>${esc(r.name)} · ${esc(e.stage)}</h3>`;
      html += table(['dataset', 'class', 'cases (defined)', 'Dice', ...(withHd ? ['HD95 (mm)'] : [])], rows, [2, 3, 4]);
    }
  }
  html +=
    '<p class="note">HD95: from every surface voxel (a voxel with a 6-neighbour outside its mask) of one mask, the distance in mm to the nearest surface voxel of the other, both ways; the larger of the two 95th percentiles (linear interpolation). n/a when both masks are empty, ∞ when exactly one is; class means skip n/a and are ∞ when any case is.</p>';
  // box plots per dataset
  const datasets = [...new Set(runs.flatMap((r) => (r.metrics?.evaluations ?? []).flatMap((e) => e.classes.map((c) => c.dataset))))];
  if (datasets.length > 0) {
    html += '<h2 id="boxplots">Per-case Dice per dataset</h2><div class="charts">';
    for (const d of datasets) {
      const names = [...new Set(runs.flatMap((r) => (r.metrics?.evaluations ?? []).flatMap((e) => e.classes.filter((c) => c.dataset === d).map((c) => c.name))))];
      const groups = names.map((n) => ({
        label: n,
        boxes: runs.map((r, i) => ({
          series: i,
          values: (r.metrics?.evaluations ?? []).flatMap((e) => e.classes.filter((c) => c.dataset === d && c.name === n).flatMap((c) => Object.values(c.perCase).filter((v): v is number => v !== null))),
        })),
      }));
      html += boxPlot({ title: `${d}: Dice per case`, yLabel: 'Dice', groups, seriesNames: runs.map((r) => r.name), yRange: [0, 1] });
    }
    html += '</div><p class="note">Boxes: quartiles and median; whiskers to the furthest case within 1.5 IQR; circles: cases beyond. Cases where both masks are empty are left out.</p>';
  }
  return html;
}

function comparisonSection(runs: RunData[]): string {
  let html = '<h2 id="comparisons">Run comparisons</h2>';
  if (runs.length < 2) return `${html}<p class="note">Pass several run folders (mtc report RUN RUN...) to compare them: the first is the baseline, each other run is compared with it case by case.</p>`;
  for (const c of compareRuns(runs)) {
    html += `<h3>${esc(c.other)}<br><span class="muted">vs baseline ${esc(c.baseline)}</span></h3>`;
    if (c.classes.length === 0) {
      html += '<p class="note">No class in common.</p>';
      continue;
    }
    const rows = c.classes.map((k) => [
      esc(k.dataset),
      esc(k.name),
      String(k.n),
      d4(k.baseline),
      d4(k.other),
      `<span class="${(k.diff ?? 0) >= 0 ? 'pos' : 'neg'}">${signed(k.diff)}</span>${k.se !== null ? ` ± ${k.se.toFixed(4)}` : ''}`,
      `${k.better} / ${k.ties} / ${k.worse}`,
      k.p === null ? 'n/a' : k.p.toPrecision(2),
    ]);
    html += table(['dataset', 'class', 'paired cases', 'baseline Dice', 'Dice', 'Δ Dice (± s.e.)', 'better / tied / worse', 'Wilcoxon p'], rows, [2, 3, 4, 5, 7]);
    html += `<p>Δ class average ${signed(c.classAverageDiff)}, Δ dataset average ${signed(c.datasetAverageDiff)}.</p>`;
    html += `<div class="charts">${differenceChart({
      title: 'Paired Δ Dice per class (run − baseline)',
      xLabel: 'Δ Dice',
      bars: c.classes.map((k) => ({ label: `${k.dataset}.${k.name}`, value: k.diff, error: k.se })),
    })}</div>`;
  }
  return `${html}<p class="note">Paired over the cases both runs evaluated with a defined Dice. Wilcoxon signed-rank test, two-sided (exact up to 20 pairs).</p>`;
}

function specSection(runs: RunData[]): string {
  let html = '<h2 id="spec">Resolved spec and timings</h2>';
  for (const r of runs) {
    const secs = Object.entries(r.metrics?.stageSeconds ?? {}).map(([s, t]) => [esc(s), t.toFixed(1)]);
    html += `<h3>${esc(r.name)}</h3>`;
    if (secs.length > 0) html += table(['stage', 'seconds'], secs, [1]);
    html += r.graphText ? `<details><summary>graph.yaml: every parameter the run used</summary><pre>${esc(r.graphText)}</pre></details>` : '<p class="note">graph.yaml not found.</p>';
  }
  return html;
}

/** The report page (see the module doc). */
export function renderHtmlReport(runs: RunData[], generatedAt = new Date()): string {
  const title = `mtc report: ${runs.map((r) => r.name).join(', ')}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title><style>${CSS}</style></head><body>`,
    `<h1>${esc(title)}</h1>`,
    `<p class="muted">Generated ${esc(generatedAt.toISOString())} from ${runs.length} run folder(s). Sections: <a href="#summary">summary</a> · <a href="#training">training</a> · <a href="#pseudo-dice">pseudo-Dice</a> · <a href="#classes">classes</a> · <a href="#boxplots">box plots</a> · <a href="#comparisons">comparisons</a> · <a href="#spec">spec</a></p>`,
    summarySection(runs),
    curvesSection(runs),
    classSection(runs),
    comparisonSection(runs),
    specSection(runs),
    '</body></html>',
    '',
  ].join('\n');
}
