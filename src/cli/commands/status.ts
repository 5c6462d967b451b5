import { relative, resolve } from 'node:path';
import { findRun, listRuns, type RunRecord } from '../../runtime/executor/index.js';
import { withSlurmState, type SlurmRunRecord } from '../../runtime/executor/slurm/status.js';
import { UserError, type CliIO } from '../io.js';

const short = (key?: string) => (key ? key.slice(0, 12) : '-');
const num = (v: unknown, digits = 4) => (typeof v === 'number' ? v.toFixed(digits) : 'n/a');

/** A stage's metrics in a few words. */
function metricsOf(kind: string, s: Record<string, unknown> | undefined, epoch?: number): string {
  if (!s) return epoch !== undefined ? `epoch ${epoch}` : '';
  switch (kind) {
    case 'prepare':
      return `${String(s.cases ?? '?')} cases`;
    case 'preprocess':
      return `${String(s.cases ?? '?')} cases`;
    case 'train':
    case 'finetune':
      return `${String(s.epochs ?? '?')} epochs, loss ${num(s.finalLoss)}${typeof s.bestEma === 'number' ? `, best pseudo-Dice ${num(s.bestEma)} (epoch ${String(s.bestEpoch)})` : ''}`;
    case 'evaluate':
      return `mean Dice ${num(s.meanDice)} over ${String(s.cases ?? '?')} cases`;
    case 'report':
      return `dataset average ${num(s.datasetAverage)}`;
    default:
      return '';
  }
}

function jsonOf(r: SlurmRunRecord): unknown {
  return {
    dir: r.dir,
    experiment: r.experiment,
    runKey: r.runKey,
    source: r.source,
    status: r.status,
    updatedAt: r.updatedAt,
    meanDice: r.meanDice,
    stages: Object.fromEntries(
      Object.entries(r.stages).map(([id, s]) => [
        id,
        {
          kind: s.kind,
          state: s.status,
          key: s.key ?? null,
          seconds: s.seconds ?? null,
          metrics: s.summary ?? null,
          ...(s.kind === 'train' || s.kind === 'finetune' ? { weights_sha256: typeof s.summary?.weights_sha256 === 'string' ? s.summary.weights_sha256 : null } : {}),
          ...(s.error ? { error: s.error } : {}),
          ...(s.checkpoint ? { checkpoint: s.checkpoint } : {}),
          ...(s.slurm ? { slurm_job_id: s.slurm.jobId, slurm_state: s.slurm.state, slurm_reason: s.slurm.reason, ...(s.slurm.logTail ? { log_tail: s.slurm.logTail } : {}) } : {}),
        },
      ]),
    ),
  };
}

function printRun(r: SlurmRunRecord, io: CliIO): void {
  io.out(`${r.experiment}  ${relative(io.cwd, r.dir) || r.dir}  ${r.status}  (updated ${r.updatedAt}, from ${r.source})`);
  const slurm = Object.values(r.stages).some((s) => s.slurm);
  const rows = Object.entries(r.stages).map(([id, s]) => [
    id,
    slurm && s.slurm ? `${s.status} (job ${s.slurm.jobId} ${s.slurm.state}${s.slurm.state === 'PENDING' && s.slurm.reason !== 'None' ? `: ${s.slurm.reason}` : ''})` : s.status,
    short(s.key),
    s.seconds === undefined ? '' : `${s.seconds.toFixed(1)}s`,
    s.status === 'failed' || s.status === 'interrupted' || s.status === 'skipped' ? (s.error ?? '').split('\n')[0] : metricsOf(s.kind, s.summary, s.epoch),
  ]);
  const head = ['stage', 'state', 'key', 'seconds', 'metrics'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : i === 4 ? c : c.padEnd(widths[i]))).join('  ')}`.trimEnd();
  io.out(line(head));
  for (const row of rows) io.out(line(row));
  for (const [id, s] of Object.entries(r.stages)) {
    if (s.status === 'failed' && s.slurm?.logTail) io.out(`\n  ${id} failed: ${(s.error ?? '').split('\n')[0]}\n  the end of its log:\n${s.slurm.logTail.split('\n').map((l) => `    ${l}`).join('\n')}`);
  }
}

/** `mtc status [RUN] [--runs DIR] [--json]`. */
export async function statusCommand(run: string | undefined, options: { runs: string; json?: boolean }, io: CliIO): Promise<number> {
  const runsDir = resolve(io.cwd, options.runs);
  let found: RunRecord[];
  if (run !== undefined) {
    const r = await findRun(runsDir, run, io.cwd);
    if (!r) throw new UserError(`no run '${run}': it is neither a run folder nor an experiment with a run under ${runsDir} (mtc ls lists them)`);
    found = [r];
  } else {
    found = await listRuns(runsDir);
  }
  // Runs submitted to Slurm: their jobs' states (a run without slurm.json is returned as it is).
  const runs: SlurmRunRecord[] = await Promise.all(found.map((r) => withSlurmState(r)));
  if (options.json) {
    io.out(JSON.stringify(run !== undefined ? jsonOf(runs[0]) : runs.map(jsonOf), null, 2));
    return 0;
  }
  if (runs.length === 0) {
    io.out(`no runs under ${runsDir}`);
    return 0;
  }
  runs.forEach((r, i) => {
    if (i > 0) io.out('');
    printRun(r, io);
  });
  return 0;
}

/** `mtc ls [--runs DIR] [--json]`: one line per run. */
export async function lsCommand(options: { runs: string; json?: boolean }, io: CliIO): Promise<number> {
  const runsDir = resolve(io.cwd, options.runs);
  const runs = await listRuns(runsDir);
  if (options.json) {
    io.out(JSON.stringify(runs.map((r) => ({ dir: r.dir, experiment: r.experiment, runKey: r.runKey, status: r.status, updatedAt: r.updatedAt, meanDice: r.meanDice })), null, 2));
    return 0;
  }
  if (runs.length === 0) {
    io.out(`no runs under ${runsDir}`);
    return 0;
  }
  const rows = runs.map((r) => {
    const states = Object.values(r.stages).map((s) => s.status);
    const done = states.filter((s) => s === 'done' || s === 'cached').length;
    return [r.experiment, r.runKey, r.status, `${done}/${states.length}`, r.updatedAt.replace('T', ' ').slice(0, 19), r.meanDice === null ? '' : r.meanDice.toFixed(4), relative(io.cwd, r.dir) || r.dir];
  });
  const head = ['experiment', 'run', 'state', 'stages', 'updated', 'Dice', 'folder'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  io.out(line(head));
  for (const row of rows) io.out(line(row));
  return 0;
}
