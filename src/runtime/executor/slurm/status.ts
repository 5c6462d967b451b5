/**
 * A run's stages as Slurm sees them, for `mtc status`: each stage that ran as a job gets its job id
 * and Slurm state, and, where the submitting process no longer follows the run (`--detach`, or it
 * ended), its state is read from the stage's own events file and from Slurm: pending, running,
 * done, failed (with why, and the tail of its log), or skipped when a stage it needs failed
 * (DependencyNeverSatisfied).
 */
import { readFile } from 'node:fs/promises';
import type { RunEvent, StageStatus } from '../../events.js';
import type { StageState } from '../run-folder.js';
import type { RunRecord } from '../status.js';
import { FINAL_STATES, SlurmClient, type JobInfo } from './client.js';
import { readSlurmRecord, stageFiles, tailOf } from './record.js';

export interface SlurmStageState extends StageState {
  slurm?: { jobId: string; state: string; reason: string; logTail?: string };
}

export interface SlurmRunRecord extends RunRecord {
  stages: Record<string, SlurmStageState>;
}

/** The last end (done, cached, failed, skipped; a time-limit interruption is not an end) and epoch in an events file. */
async function lastEnd(path: string): Promise<{ end?: Extract<RunEvent, { type: 'stage-end' }>; started: boolean; epoch?: number }> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { started: false };
  }
  let end: Extract<RunEvent, { type: 'stage-end' }> | undefined;
  let started = false;
  let epoch: number | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    let e: RunEvent;
    try {
      e = JSON.parse(line) as RunEvent;
    } catch {
      continue;
    }
    if (e.type === 'stage-start') {
      started = true;
      end = undefined;
    } else if (e.type === 'stage-end' && e.status !== 'interrupted') end = e;
    else if (e.type === 'epoch') epoch = e.record.epoch;
  }
  return { end, started, epoch };
}

const RUNNING = new Set(['RUNNING', 'COMPLETING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING']);

/** The run with its Slurm jobs' states (unchanged when it has no slurm.json). */
export async function withSlurmState(run: RunRecord, client = new SlurmClient()): Promise<SlurmRunRecord> {
  const rec = await readSlurmRecord(run.dir);
  if (!rec) return run;
  let info = new Map<string, JobInfo>();
  try {
    info = await client.jobs(Object.values(rec.stages).map((s) => s.job));
  } catch {
    // Slurm not reachable from here: the recorded states stand
  }
  const stages: Record<string, SlurmStageState> = { ...run.stages };
  let anyActive = false;
  for (const [id, job] of Object.entries(rec.stages)) {
    const base = stages[id];
    if (!base) continue;
    const j = info.get(job.job);
    const slurm: NonNullable<SlurmStageState['slurm']> = { jobId: job.job, state: j?.state ?? 'UNKNOWN (no longer in Slurm)', reason: j?.reason ?? '' };
    const s: SlurmStageState = { ...base, slurm };
    if (job.submission === rec.submission && base.status !== 'cached') {
      const files = stageFiles(job.runDir, id);
      const { end, started, epoch } = await lastEnd(files.events);
      if (epoch !== undefined) s.epoch = epoch;
      let status: StageStatus | undefined;
      if (end) {
        status = end.status;
        if (end.key) s.key = end.key;
        if (end.summary) s.summary = end.summary;
        s.seconds = end.seconds;
        if (end.error) s.error = end.error;
      } else if (j && j.state === 'PENDING') status = 'pending';
      else if (j && RUNNING.has(j.state)) status = started ? 'running' : 'pending';
      else if (j && FINAL_STATES.has(j.state)) {
        status = j.reason === 'DependencyNeverSatisfied' ? 'skipped' : j.state === 'CANCELLED' ? 'interrupted' : 'failed';
        s.error =
          status === 'skipped'
            ? `not run: a stage it needs failed (Slurm: ${j.state}, DependencyNeverSatisfied)`
            : status === 'interrupted'
              ? `Slurm job ${job.job} was cancelled (scancel); running the same command again resubmits it`
              : `Slurm job ${job.job} ended ${j.state}${j.exitCode ? ` (exit code ${j.exitCode})` : ''}${j.reason !== 'None' ? `, reason ${j.reason}` : ''}`;
      }
      if (status) s.status = status;
      if (s.status === 'pending' || s.status === 'running') anyActive = true;
      if (s.status === 'failed') {
        const tail = (await tailOf(files.log, 12)) || (await tailOf(job.output, 12));
        if (tail) slurm.logTail = tail;
      }
    }
    stages[id] = s;
  }
  const states = Object.values(stages).map((s) => s.status);
  const status: RunRecord['status'] = anyActive
    ? 'running'
    : states.includes('failed') || states.includes('skipped')
      ? 'failed'
      : states.includes('interrupted')
        ? 'interrupted'
        : states.every((x) => x === 'done' || x === 'cached')
        ? 'done'
        : run.status;
  return { ...run, stages, status };
}
