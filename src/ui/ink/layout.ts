import type { StageStatus } from '../../runtime/events.js';
import { diceTableLines, etaSeconds, formatDice as formatDiceCell, formatDuration, MAX_WARNINGS, traceValues, type RunView, type StageView } from '../state.js';

/**
 * The screen as lines of coloured segments, computed from the view alone (pure, so frames are
 * testable at any width). Every line is at most `columns` characters: each segment's text is cut
 * to what is left of the line, so nothing wraps on a narrow terminal.
 */
export interface Segment {
  text: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
}
export type Line = Segment[];

export interface LayoutOptions {
  columns: number;
  /** Terminal rows: the live screen keeps under them (a taller frame makes the terminal scroll and flicker). */
  rows: number;
  /** How many times stop was asked for (q or Ctrl-C): 1 = stopping gracefully. */
  stopping?: number;
}

export const ICON: Record<StageStatus, string> = {
  pending: '·',
  running: '▶',
  done: '✔',
  cached: '≡',
  failed: '✘',
  interrupted: '‖',
  skipped: '↷',
};
export const COLOR: Record<StageStatus, string> = {
  pending: 'gray',
  running: 'cyan',
  done: 'green',
  cached: 'green',
  failed: 'red',
  interrupted: 'yellow',
  skipped: 'yellow',
};

const SPARK = '▁▂▃▄▅▆▇█';
const MIN_COLUMNS = 20;

export function lineWidth(line: Line): number {
  return line.reduce((n, s) => n + s.text.length, 0);
}

/** Cuts a line to `width` characters (an ellipsis marks the cut). */
export function fitLine(line: Line, width: number): Line {
  const out: Line = [];
  let left = width;
  const total = lineWidth(line);
  for (const seg of line) {
    if (left <= 0) break;
    if (seg.text.length <= left) {
      out.push(seg);
      left -= seg.text.length;
    } else {
      out.push({ ...seg, text: left > 1 && total > width ? `${seg.text.slice(0, left - 1)}…` : seg.text.slice(0, left) });
      left = 0;
    }
  }
  return out;
}

/** Keeps the end of a text that is too long (paths: the run folder's key matters most). */
function keepEnd(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(-width) : `…${text.slice(text.length - width + 1)}`;
}

/** Splits a text into lines of at most `width` characters, at spaces where it can. */
export function wrapWords(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  let rest = text;
  while (rest.length > w) {
    const space = rest.lastIndexOf(' ', w);
    const cut = space > w / 3 ? space : w;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ /, '');
  }
  out.push(rest);
  return out;
}

/** Cuts the middle out of a name that is too long: stage ids differ at both ends (`train:baseline_…_fold3`). */
export function cutMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  const tail = Math.floor((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${Math.round(n / 1024)}K`;
  if (n < 1024 ** 3) return `${Math.round(n / 1024 ** 2)}M`;
  return `${(n / 1024 ** 3).toFixed(1)}G`;
}

/** A sparkline of `values`, resampled to `width` cells (bucket means), scaled between its min and max. */
export function sparkline(values: readonly number[], width: number): string {
  if (values.length === 0 || width <= 0) return '';
  const cells: number[] = [];
  const n = Math.min(width, values.length);
  for (let i = 0; i < n; i++) {
    const a = Math.floor((i * values.length) / n);
    const b = Math.max(a + 1, Math.floor(((i + 1) * values.length) / n));
    let sum = 0;
    for (let j = a; j < b; j++) sum += values[j];
    cells.push(sum / (b - a));
  }
  const lo = Math.min(...cells);
  const hi = Math.max(...cells);
  return cells.map((v) => SPARK[hi > lo ? Math.round(((v - lo) / (hi - lo)) * (SPARK.length - 1)) : 0]).join('');
}

/** Colour of a Dice value: red under 0.3, yellow under 0.6, green from there. */
export function diceColor(d: number | null | undefined): string {
  if (d === null || d === undefined) return 'gray';
  return d < 0.3 ? 'red' : d < 0.6 ? 'yellow' : 'green';
}

function progressBar(done: number, total: number, width: number): Segment[] {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return [
    { text: '█'.repeat(full), color: 'cyan' },
    { text: '░'.repeat(width - full), color: 'gray' },
  ];
}

/** A cluster job as the stage tree shows it: `job 12 PENDING (Dependency)`. */
export function jobText(job: NonNullable<StageView['job']>): string {
  return `job ${job.id} ${job.state}${job.reason && job.reason !== 'None' ? ` (${job.reason})` : ''}`;
}

/** The right-hand side of a stage's row; `compact` (a narrow terminal): a cluster job's state alone. */
function statusText(s: StageView, compact = false): string {
  switch (s.status) {
    case 'pending':
      // A stage waiting for its cluster job (queued, or starting on its node) says what Slurm says.
      return s.job ? (compact ? s.job.state : jobText(s.job)) : 'pending';
    case 'running': {
      const progress = s.total > 0 ? `${Math.floor((100 * s.done) / s.total)}%` : 'running';
      return s.job && !compact ? `${progress}  job ${s.job.id}` : progress;
    }
    case 'done':
      return `done ${formatDuration(s.seconds ?? 0)}`;
    case 'interrupted':
      return s.checkpoint ? `interrupted, resumes at epoch ${s.checkpoint.epoch + 1}` : 'interrupted';
    default:
      return s.status;
  }
}

function stageLine(s: StageView, columns: number): Line {
  const indent = s.depth > 0 ? `${'  '.repeat(Math.min(s.depth, 5) - 1)}└ ` : '';
  const head = `${ICON[s.status]} ${indent}`;
  const full = statusText(s);
  // The stage id keeps at least 16 columns: a long job state gives way first.
  const right = columns - head.length - full.length - 2 < 16 ? statusText(s, true) : full;
  const room = Math.max(4, columns - head.length - right.length - 2);
  const id = cutMiddle(s.id, room);
  const pad = Math.max(1, columns - head.length - id.length - right.length);
  return [
    { text: ICON[s.status], color: COLOR[s.status] },
    { text: ` ${indent}`, color: 'gray' },
    { text: id, bold: s.status === 'running' },
    { text: ' '.repeat(pad) },
    { text: right, color: COLOR[s.status] },
  ];
}

/**
 * Which stages the tree shows in `budget` rows: all when they fit; else the running, failed,
 * interrupted and skipped ones first, then those next to the running ones (the last finished, the next
 * pending), in graph order.
 */
export function visibleStages(stages: readonly StageView[], budget: number): { shown: StageView[]; hidden: StageView[] } {
  if (stages.length <= budget) return { shown: [...stages], hidden: [] };
  const room = Math.max(1, budget - 1); // one row says what is hidden
  const rank = (s: StageView): number => (s.status === 'running' ? 0 : s.status === 'failed' || s.status === 'interrupted' || s.status === 'skipped' ? 1 : 2);
  const anchors = stages.map((s, i) => (s.status === 'running' ? i : -1)).filter((i) => i >= 0);
  const firstPending = stages.findIndex((s) => s.status === 'pending');
  if (anchors.length === 0) anchors.push(firstPending >= 0 ? firstPending : stages.length - 1);
  const distance = (i: number) => Math.min(...anchors.map((a) => Math.abs(a - i)));
  const order = stages
    .map((s, i) => ({ s, i }))
    .sort((a, b) => rank(a.s) - rank(b.s) || distance(a.i) - distance(b.i) || a.i - b.i)
    .slice(0, room)
    .map((x) => x.i)
    .sort((a, b) => a - b);
  const keep = new Set(order);
  return { shown: order.map((i) => stages[i]), hidden: stages.filter((_, i) => !keep.has(i)) };
}

function countLine(stages: readonly StageView[], prefix: string): string {
  const counts = new Map<string, number>();
  for (const s of stages) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const order: StageStatus[] = ['done', 'cached', 'running', 'interrupted', 'failed', 'skipped', 'pending'];
  return `${prefix}${order.filter((k) => counts.has(k)).map((k) => `${counts.get(k)} ${k}`).join(', ')}`;
}

function diceLines(stage: StageView, columns: number, maxLines: number): Line[] {
  const rec = stage.lastEpoch;
  if (!rec || rec.meanPseudoDice === undefined) return [];
  const head: Line = [
    { text: '  pseudo-Dice ' },
    { text: rec.meanPseudoDice === null ? 'n/a' : rec.meanPseudoDice.toFixed(3), color: diceColor(rec.meanPseudoDice), bold: true },
    { text: rec.ema !== undefined && rec.ema !== null ? `  ema ${rec.ema.toFixed(3)}` : '', color: 'gray' },
    { text: `  (epoch ${rec.epoch + 1})`, color: 'gray' },
  ];
  // One row per dataset (classes of different datasets may share a name), wrapped when long.
  const byDataset = new Map<string, { name: string; value: string; color: string }[]>();
  for (const [key, d] of Object.entries(rec.pseudoDice ?? {})) {
    const slash = key.indexOf('/');
    const dataset = slash >= 0 ? key.slice(0, slash) : '';
    const name = cutMiddle(slash >= 0 ? key.slice(slash + 1) : key, 18);
    const list = byDataset.get(dataset) ?? [];
    list.push({ name, value: d === null ? ' n/a' : d.toFixed(2).replace(/^0/, ''), color: diceColor(d) });
    byDataset.set(dataset, list);
  }
  const labelWidth = Math.min(16, Math.max(0, ...[...byDataset.keys()].map((k) => k.length)), Math.floor(columns / 4));
  const indent = 3 + (labelWidth > 0 ? labelWidth + 2 : 0);
  const lines: Line[] = [head];
  for (const [dataset, cells] of byDataset) {
    if (lines.length >= maxLines) break;
    let cur: Line = [{ text: '   ' }, ...(labelWidth > 0 ? [{ text: `${cutMiddle(dataset, labelWidth).padEnd(labelWidth)}  `, color: 'gray' }] : [])];
    let used = indent;
    for (const c of cells) {
      const w = c.name.length + 1 + c.value.length + 2;
      if (used + w > columns && used > indent) {
        lines.push(cur);
        cur = [{ text: ' '.repeat(indent) }];
        used = indent;
        if (lines.length >= maxLines) break;
      }
      cur.push({ text: `${c.name} ` }, { text: c.value, color: c.color, bold: true }, { text: '  ' });
      used += w;
    }
    if (lines.length < maxLines && cur.some((seg) => seg.bold)) lines.push(cur);
  }
  // Each shown class has one bold segment (its value); say how many did not fit.
  const total = Object.keys(rec.pseudoDice ?? {}).length;
  const count = () => lines.slice(1).reduce((n, l) => n + l.filter((seg) => seg.bold).length, 0);
  if (lines.length > 1 && count() < total) {
    const last = lines[lines.length - 1];
    const more = () => ` +${total - count()} more`;
    while (lineWidth(last) + more().length > columns && last.some((seg) => seg.bold)) last.splice(-3, 3);
    last.push({ text: more(), color: 'gray' });
  }
  return lines;
}

/** The lines of one running stage: what it does, its progress bar with rate and ETA, and for a training epoch, LR, loss and pseudo-Dice. */
export function stagePanel(s: StageView, columns: number, opts: { maxDiceLines: number; warned?: ReadonlySet<string> }): Line[] {
  const lines: Line[] = [];
  const facts: Line = [];
  if (s.epoch !== undefined) facts.push({ text: `  epoch ${s.epoch + 1}${s.epochs ? `/${s.epochs}` : ''}` });
  if (s.lr !== undefined) facts.push({ text: `  lr ${s.lr.toExponential(2)}` });
  if (s.memory) facts.push({ text: `  mem ${formatBytes(s.memory.rss)}${s.memory.tensors !== undefined ? ` (tensors ${formatBytes(s.memory.tensors)})` : ''}`, color: 'gray' });
  else if (s.description && s.epoch === undefined) facts.push({ text: `  ${s.description}`, color: 'gray' });
  const title: Line = [{ text: `${ICON.running} `, color: 'cyan' }, { text: cutMiddle(s.id, columns - 2), bold: true }];
  // One line when it fits, else the facts go under the name.
  if (lineWidth(title) + lineWidth(facts) <= columns) lines.push([...title, ...facts]);
  else lines.push(title, facts);
  if (s.total > 0) {
    const pct = `${String(Math.floor((100 * s.done) / s.total)).padStart(3)}%`;
    const eta = etaSeconds(s);
    const facts = [`${s.done}/${s.total} ${s.unit}`, ...(s.rate !== undefined ? [`${s.rate.toFixed(2)} ${s.unit}/s`] : []), ...(eta !== undefined ? [`ETA ${formatDuration(eta)}`] : [])];
    let tail = `  ${facts.join('  ')}`;
    let barWidth = columns - 2 - 1 - pct.length - tail.length;
    if (barWidth < 10) {
      tail = `  ${facts.slice(0, 1).concat(facts.slice(2)).join('  ')}`; // drop the rate before the bar
      barWidth = columns - 2 - 1 - pct.length - tail.length;
    }
    barWidth = Math.min(40, Math.max(5, barWidth));
    lines.push([{ text: '  ' }, ...progressBar(s.done, s.total, barWidth), { text: ` ${pct}` }, { text: tail }]);
  }
  const values = traceValues(s.lossTrace);
  if (s.loss !== undefined) {
    const label = `  loss ${s.loss.toFixed(4)}  `;
    const width = Math.min(64, columns - label.length);
    lines.push([{ text: label }, { text: width >= 8 ? sparkline(values, width) : '', color: 'magenta' }]);
  }
  lines.push(...diceLines(s, columns, opts.maxDiceLines));
  if (s.detail) lines.push([{ text: `  ${s.detail}`, color: 'gray' }]);
  else if (s.lastLog && !opts.warned?.has(s.lastLog)) lines.push([{ text: `  ${s.lastLog}`, color: 'gray' }]);
  return lines;
}

/** The whole screen. While the run goes on it stays under `rows`; the last frame (run ended) shows everything. */
export function screenLines(view: RunView, options: LayoutOptions): Line[] {
  const columns = Math.max(MIN_COLUMNS, options.columns);
  const final = view.finished !== null;
  const rows = Math.max(8, options.rows - 1);
  const top: Line[] = [];
  const title = view.experiments.length > 3 ? `${view.experiments.length} experiments` : view.experiment;
  const memory = view.stages.find((s) => s.status === 'running' && s.memory)?.memory;
  top.push([
    { text: `mtc ${view.command} `, bold: true },
    { text: title },
    { text: view.backend ? `  ${view.backend}` : '', color: 'gray' },
    { text: memory ? `  rss ${formatBytes(memory.rss)}` : '', color: 'gray' },
    { text: view.jobs > 1 ? `  ${view.jobs} jobs` : '', color: 'gray' },
  ]);
  if (view.runDir) {
    const dirs = Object.keys(view.runDirs).length;
    const label = dirs > 1 ? `→ ${dirs} run folders, e.g. ` : '→ ';
    top.push([{ text: label + keepEnd(view.runDir, columns - label.length), color: 'gray' }]);
  }

  const running = view.stages.filter((s) => s.status === 'running');
  const panels: Line[] = [];
  const panelStages = running.slice(0, 2);
  for (const s of panelStages) panels.push([], ...stagePanel(s, columns, { maxDiceLines: view.stages.length > 12 ? 2 : 4, warned: new Set(view.warnings.map((w) => w.message)) }));
  if (running.length > panelStages.length) panels.push([{ text: `  and ${running.length - panelStages.length} more running`, color: 'gray' }]);

  const warnings: Line[] = [];
  const shownWarnings = view.warnings.slice(-3);
  if (shownWarnings.length > 0) {
    warnings.push([]);
    warnings.push([{ text: `warnings (${view.warnings.length})${final ? ', in full below' : ''}`, color: 'yellow', bold: true }]);
    for (const w of shownWarnings) warnings.push([{ text: '! ', color: 'yellow' }, { text: `${w.stage}: `, color: 'gray' }, { text: w.message.replace(/\s+/g, ' ') }]);
  }

  const results: Line[] = [];
  if (view.results.length > 0) {
    results.push([]);
    for (const r of view.results.slice(-3)) {
      const scored = r.classes.filter((c) => c.dice !== null).length;
      results.push([
        { text: 'Dice ' },
        { text: r.meanDice === null ? 'n/a' : r.meanDice.toFixed(4), color: diceColor(r.meanDice), bold: true },
        { text: ` (${scored} ${scored === 1 ? 'class' : 'classes'}, table ${final ? 'below' : 'at the end'})  ${r.stage}`, color: 'gray' },
      ]);
    }
  }

  const footer: Line[] = [];
  // Stages that run as cluster jobs (--executor slurm): q stops following them, and asks whether to cancel them.
  const following = view.stages.some((s) => s.job !== undefined);
  if (final && view.finished) {
    const f = view.finished;
    footer.push([], [{ text: `${f.status} in ${formatDuration(f.seconds)}`, color: f.status === 'done' ? 'green' : f.status === 'interrupted' ? 'yellow' : 'red', bold: true }]);
  } else if ((options.stopping ?? 0) > 0) {
    const text = following
      ? 'stopping following the jobs: you are asked whether to cancel them'
      : 'stopping after the current iteration, writing a checkpoint (q again: abort at once)';
    footer.push([], [{ text, color: 'yellow' }]);
  } else if (following) {
    footer.push([], [{ text: 'q', bold: true }, { text: ' stop following (asks whether to cancel the jobs; else they keep running)', color: 'gray' }]);
  } else {
    footer.push([], [{ text: 'q', bold: true }, { text: ' stop (a checkpoint is written; the same command resumes)', color: 'gray' }]);
  }

  // The stage tree gets the rows left (at least 3), the rest is dropped from the bottom of the panels.
  const fixed = top.length + 1 + panels.length + warnings.length + results.length + footer.length;
  const treeBudget = Math.max(3, rows - fixed);
  let panelLines = panels;
  if (top.length + 1 + treeBudget + panels.length + warnings.length + footer.length > rows) {
    const room = Math.max(0, rows - (top.length + 1 + treeBudget + warnings.length + footer.length));
    panelLines = panels.slice(0, room);
  }
  const { shown, hidden } = visibleStages(view.stages, treeBudget);
  const tree: Line[] = [[{ text: countLine(view.stages, `stages (${view.stages.length}): `), color: 'gray' }]];
  for (const s of shown) tree.push(stageLine(s, columns));
  if (hidden.length > 0) tree.push([{ text: countLine(hidden, `  … ${hidden.length} more: `), color: 'gray' }]);

  const all = [...top, ...tree, ...panelLines, ...warnings, ...results, ...footer];
  return all.slice(0, rows).map((l) => fitLine(l, columns));
}

/**
 * What is written under the last frame once the screen is gone, as plain scrollback: each
 * evaluation's per-class Dice table (coloured by value) and every warning in full, wrapped.
 * (A frame taller than the terminal would make Ink clear the screen.)
 */
export function epilogueLines(view: RunView, columns: number): Line[] {
  const width = Math.max(MIN_COLUMNS, columns);
  const lines: Line[] = [];
  for (const r of view.results) {
    lines.push([], [{ text: `Per-class Dice on the validation cases (${r.stage})`, bold: true }]);
    const table = diceTableLines(r);
    table.forEach((l, i) => {
      const c = r.classes[i - 2];
      if (i >= 2 && c) {
        const cut = l.length - formatDiceCell(c.dice).length;
        lines.push([{ text: l.slice(0, cut) }, { text: l.slice(cut), color: diceColor(c.dice) }]);
      } else lines.push([{ text: l, bold: i === table.length - 1, color: i === table.length - 1 ? diceColor(r.meanDice) : undefined }]);
    });
  }
  if (view.warnings.length > 0) {
    lines.push([], [{ text: `warnings (${view.warnings.length}${view.warnings.length >= MAX_WARNINGS ? ', the latest; events.jsonl has all' : ''})`, color: 'yellow', bold: true }]);
    for (const w of view.warnings) {
      const [first, ...rest] = wrapWords(`${w.stage}: ${w.message.replace(/\s+/g, ' ')}`, width - 2);
      lines.push([{ text: '! ', color: 'yellow' }, { text: first }], ...rest.map((r): Line => [{ text: `  ${r}` }]));
    }
  }
  return lines.map((l) => fitLine(l, width));
}
