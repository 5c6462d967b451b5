import type { RunEvent, RunEvents } from '../runtime/events.js';
import { diceTableLines, etaSeconds, formatDuration } from './state.js';

export interface PlainOptions {
  write: (line: string) => void;
  /** Minimum seconds between two progress lines of one stage (the last one always prints). */
  intervalSeconds?: number;
  now?: () => number;
}

/** Formats one progress event as a single self-contained line. */
export function progressLine(e: Extract<RunEvent, { type: 'stage-progress' }>): string {
  const parts = [`[${e.stage}]`];
  if (e.epoch !== undefined) parts.push(`epoch ${e.epoch}`);
  parts.push(`${e.unit} ${e.done}/${e.total}`);
  if (e.total > 0) parts.push(`${((100 * e.done) / e.total).toFixed(0)}%`);
  if (e.rate !== undefined) parts.push(`${e.rate.toFixed(2)} ${e.unit}/s`);
  const eta = etaSeconds(e);
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
  if (e.lr !== undefined) parts.push(`lr ${e.lr.toExponential(2)}`);
  if (e.detail) parts.push(e.detail);
  return parts.join('  ');
}

/**
 * Line-oriented renderer for pipes, CI and `--no-tui`: every line stands alone, progress is
 * throttled per stage so logs stay readable.
 */
export function attachPlainRenderer(events: RunEvents, options: PlainOptions): () => void {
  const interval = (options.intervalSeconds ?? 5) * 1000;
  const now = options.now ?? Date.now;
  const lastPrinted = new Map<string, number>();
  return events.subscribe((e) => {
    const w = options.write;
    switch (e.type) {
      case 'run-start': {
        const names = e.graph.source.experiments;
        const dirs = Object.values(e.runDirs);
        w(`mtc run: experiment${names.length === 1 ? '' : 's'} ${names.map((n) => `'${n}'`).join(', ')} from ${e.graph.source.file}`);
        w(`  backend ${e.backend}, ${e.graph.stages.length} stages${e.jobs > 1 ? `, ${e.jobs} at a time` : ''}, store ${e.store}`);
        if (dirs.length === 1) w(`  run folder ${dirs[0]}`);
        else for (const [n, d] of Object.entries(e.runDirs)) w(`  run folder of ${n}: ${d}`);
        break;
      }
      case 'stage-start':
        w(`[${e.stage}] start: ${e.description}`);
        lastPrinted.set(e.stage, now());
        break;
      case 'stage-progress': {
        const last = lastPrinted.get(e.stage) ?? 0;
        if (e.done === e.total || now() - last >= interval) {
          w(progressLine(e));
          lastPrinted.set(e.stage, now());
        }
        break;
      }
      case 'stage-log':
        w(`[${e.stage}] ${e.level === 'warning' ? 'warning: ' : ''}${e.message}`);
        break;
      case 'stage-job':
        w(`[${e.stage}] Slurm job ${e.job}: ${e.state}${e.reason && e.reason !== 'None' ? ` (${e.reason})` : ''}`);
        break;
      case 'stage-cache':
        if (!e.cached) w(`[${e.stage}] not cached (key ${e.key.slice(0, 12)}): ${e.changes.join('; ')}`);
        break;
      case 'epoch': {
        const r = e.record;
        const dice = r.meanPseudoDice === undefined ? '' : `  pseudo-Dice ${r.meanPseudoDice === null ? 'n/a' : r.meanPseudoDice.toFixed(4)}${r.ema === undefined || r.ema === null ? '' : ` (ema ${r.ema.toFixed(4)}${e.best ? ', best' : ''})`}`;
        w(`[${e.stage}] epoch ${r.epoch}  loss ${r.meanLoss.toFixed(4)}  lr ${r.lr.toExponential(2)}${dice}  ${formatDuration(r.seconds)}`);
        break;
      }
      case 'checkpoint':
        if (e.kind === 'latest') w(`[${e.stage}] checkpoint written (resumes at epoch ${e.epoch})`);
        break;
      case 'stage-end':
        if (e.status === 'cached') w(`[${e.stage}] cached (key ${(e.key ?? '').slice(0, 12)})`);
        else if (e.status === 'skipped') w(`[${e.stage}] skipped${e.error ? `: ${e.error}` : ''}`);
        else w(`[${e.stage}] ${e.status} in ${formatDuration(e.seconds)}${e.error ? `: ${e.error}` : ''}`);
        break;
      case 'evaluation':
        w('');
        w(`Per-class Dice on the validation cases (${e.result.stage}):`);
        for (const l of diceTableLines(e.result)) w(`  ${l}`);
        w('');
        break;
      case 'run-end': {
        const dirs = Object.values(e.runDirs);
        w(`mtc run: ${e.status} in ${formatDuration(e.seconds)}; results in ${dirs.length === 1 ? dirs[0] : `${dirs.length} run folders`}`);
        break;
      }
      case 'job-start':
        w(`mtc ${e.command}: ${e.title}`);
        w(`  ${e.backend ? `backend ${e.backend}, ` : ''}${e.activities.length} input(s), output folder ${e.folder}`);
        break;
      case 'job-end':
        w(`mtc ${e.command}: ${e.status} in ${formatDuration(e.seconds)}; outputs in ${e.folder}`);
        break;
    }
  });
}

/** One JSON object per event and line (`--json`), for scripts. */
export function attachJsonRenderer(events: RunEvents, write: (line: string) => void): () => void {
  return events.subscribe((e) => {
    // The graph is large and already written to the run folder; keep the stream compact.
    const payload = e.type === 'run-start' ? { ...e, graph: { source: e.graph.source, stages: e.graph.stages.map((s) => s.id) } } : e;
    write(JSON.stringify(payload));
  });
}
