/**
 * Slurm's command-line tools, as the Slurm executor uses them: sbatch to submit, squeue and
 * scontrol to read job states, scancel, sinfo for partitions. Every call goes through `exec`, so
 * tests (and other sites) can stand in for the tools. No scheduler logic lives here.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** What Slurm is asked for a job, parsed from `scontrol show job` (or `squeue`). */
export interface JobInfo {
  /** `123` or, for an array task, `123_4`. */
  id: string;
  /** PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, REQUEUED, ... */
  state: string;
  reason: string;
  /** `exit:signal` of the batch script, once it ended. */
  exitCode?: string;
  restarts: number;
}

export class SlurmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlurmError';
  }
}

export type Exec = (cmd: string, args: readonly string[], options?: { input?: string }) => Promise<{ code: number; stdout: string; stderr: string }>;

export const execTool: Exec = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, [...args], { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });

/** Whether an executable of that name is on PATH. */
export async function onPath(name: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    try {
      await access(join(d, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Job states after which a job never runs again (unless requeued). */
export const FINAL_STATES = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED', 'SPECIAL_EXIT', 'REVOKED']);

export class SlurmClient {
  constructor(readonly exec: Exec = execTool) {}

  private async tool(cmd: string, args: string[]): Promise<string> {
    const r = await this.exec(cmd, args);
    if (r.code !== 0) throw new SlurmError(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  /** Partition names (the default one is marked `*` by sinfo; the mark is removed). */
  async partitions(): Promise<{ names: string[]; default?: string }> {
    const out = await this.tool('sinfo', ['-h', '-o', '%P']);
    const raw = out.split('\n').map((l) => l.trim()).filter(Boolean);
    const names = [...new Set(raw.map((p) => p.replace(/\*$/, '')))];
    const def = raw.find((p) => p.endsWith('*'))?.replace(/\*$/, '');
    return { names, ...(def ? { default: def } : {}) };
  }

  /** Submits a batch script; returns its job id. */
  async submit(script: string, args: readonly string[] = []): Promise<string> {
    const out = await this.tool('sbatch', ['--parsable', ...args, script]);
    const id = out.trim().split(';')[0];
    if (!/^\d+$/.test(id)) throw new SlurmError(`sbatch printed no job id: ${out.trim()}`);
    return id;
  }

  /**
   * The state of each job and array task (ids `123` or `123_4`) that Slurm still knows (squeue for
   * queued and running jobs, scontrol for finished ones it keeps for MinJobAge); unknown ids are absent.
   */
  async jobs(ids: readonly string[]): Promise<Map<string, JobInfo>> {
    const out = new Map<string, JobInfo>();
    if (ids.length === 0) return out;
    const bases = [...new Set(ids.map((i) => i.split('_')[0]))];
    const r = await this.exec('scontrol', ['show', 'job', '-o', bases.join(',')]);
    // scontrol show job with several ids answers for those it knows; one unknown id makes it fail for all: ask one by one then.
    const lines = r.code === 0 ? r.stdout.split('\n') : (await Promise.all(bases.map(async (b) => (await this.exec('scontrol', ['show', 'job', '-o', b])).stdout))).join('\n').split('\n');
    for (const line of lines) {
      if (!line.includes('JobId=')) continue;
      const f = parseFields(line);
      const arrayJob = f.ArrayJobId;
      const task = f.ArrayTaskId;
      const id = arrayJob && task !== undefined && /^\d+$/.test(task) ? `${arrayJob}_${task}` : f.JobId;
      out.set(id, { id, state: f.JobState ?? 'UNKNOWN', reason: f.Reason ?? 'None', exitCode: f.ExitCode, restarts: Number(f.Restarts ?? 0) });
      // A pending array whose tasks have not been split off yet shows as one record `ArrayTaskId=0-3`.
      if (arrayJob && task !== undefined && !/^\d+$/.test(task)) {
        for (const t of expandRange(task.replace(/%\d+$/, ''))) {
          const tid = `${arrayJob}_${t}`;
          if (!out.has(tid)) out.set(tid, { id: tid, state: f.JobState ?? 'UNKNOWN', reason: f.Reason ?? 'None', restarts: Number(f.Restarts ?? 0) });
        }
      }
    }
    return out;
  }

  async cancel(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.tool('scancel', [...ids]);
  }

  /**
   * Makes a requeued job eligible at once: Slurm holds a requeued batch job for a while (its
   * BeginTime), which a job that requeued itself near its time limit does not need.
   */
  async releaseNow(id: string): Promise<void> {
    await this.exec('scontrol', ['update', `jobid=${id}`, 'StartTime=now']);
  }
}

/** `Key=Value Key=Value ...` of `scontrol show job -o` (values have no spaces, except the last fields'). */
export function parseFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/(?:^|\s)([A-Za-z_:/]+)=(\S*)/g)) {
    if (!(m[1] in out)) out[m[1]] = m[2];
  }
  return out;
}

/** `0-3,5,7-8` -> [0, 1, 2, 3, 5, 7, 8]. */
export function expandRange(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    for (let i = a; i <= b; i += step) out.push(i);
  }
  return out;
}
