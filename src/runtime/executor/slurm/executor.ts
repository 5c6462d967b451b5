/**
 * The Slurm executor: every stage of a plan that is not in the store becomes a Slurm job (stages of
 * one shape that wait for the same jobs: a job array), dependencies become `--dependency=afterok`
 * (`aftercorr` task by task), and each job runs the stage with `mtc run --stage ID --run DIR`, the
 * same code as the local executor's child processes, reading and filing the shared store. Then it
 * follows the jobs (their events files and Slurm's job states) until they end, or returns at once
 * (`detach`).
 *
 * Before anything is submitted (preflight): the graph must be runnable here (assertRunnable), sbatch,
 * squeue and scontrol must be on the PATH, the partition must exist (sinfo), and the runs folder
 * (the store and the run folders, on the shared filesystem) must be writable.
 */
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeGraph } from '../../../graph/types.js';
import { validateGraph } from '../../../graph/validate.js';
import type { RunEvent, RunEvents, RunStatus, StageStatus } from '../../events.js';
import { assertPatternsMatch, assertRunnable, matchesAny, StageRunner } from '../local.js';
import { stageSlug, type Plan } from '../plan.js';
import { RunRecorder } from '../run-folder.js';
import { Store } from '../store.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { FINAL_STATES, onPath, SlurmClient, SlurmError, type JobInfo } from './client.js';
import { planJobs } from './jobs.js';
import { readSlurmRecord, stageFiles, tailOf, writeSlurmRecord, type SlurmRecord, type StageJob } from './record.js';
import { batchScript, signalLeadProblem, type SbatchOptions } from './script.js';

export interface SlurmExecuteOptions {
  dataRoot: string;
  cacheDir?: string | null;
  backend: string;
  backendDescription?: string;
  events: RunEvents;
  /** Let a synthetic dataset's root lie outside the data root (docs/trust.md); recorded in run.json for the jobs. */
  allowOutsideDataRoot?: boolean;
  /** What each job runs: the node binary and bin/mtc.js, by absolute paths every node can reach. */
  mtc: readonly string[];
  sbatch: SbatchOptions;
  client?: SlurmClient;
  resolvedSources?: ReadonlyMap<string, string>;
  env?: NodeJS.ProcessEnv;
  /** Stage id patterns submitted even when they are in the store (`--force`; their jobs pass `--force-stage`). */
  force?: readonly string[];
  /** Stage id patterns to submit; every other stage must be in the store, else it and what needs it are not run (`--only`). */
  only?: readonly string[];
}

/** One submitted stage: its job (or array task), and where its events are. */
export interface SubmittedStage {
  stage: string;
  job: string;
  runDir: string;
  events: string;
  log: string;
  output: string;
  /** Where this submission's events start in the events file (it is appended to across submissions). */
  offset: number;
}

export interface FollowOutcome {
  status: RunStatus | 'detached';
  stages: Record<string, StageStatus>;
  /** Jobs still queued or running (when following stopped early). */
  active: string[];
  error?: string;
}

/** How long a job that requeued itself waits before it is made eligible again (see followJobs). */
const RELEASE_AFTER_MS = 3000;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The preflight checks (see the module doc); every problem in one error. */
export async function slurmPreflight(runsDir: string, sbatch: SbatchOptions, client: SlurmClient, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const problems: string[] = [];
  const lead = signalLeadProblem(sbatch);
  if (lead) problems.push(lead);
  const missing = [];
  for (const tool of ['sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo']) if (!(await onPath(tool, env))) missing.push(tool);
  if (missing.length > 0) {
    problems.push(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on the PATH: run mtc on a Slurm login node (or load Slurm's module), or use the local executor`);
  } else {
    try {
      const { names } = await client.partitions();
      if (sbatch.partition !== undefined) {
        for (const p of sbatch.partition.split(',')) {
          if (!names.includes(p)) problems.push(`partition '${p}' does not exist (sinfo lists: ${names.join(', ') || 'none'})`);
        }
      } else if (names.length === 0) {
        problems.push('sinfo lists no partition');
      }
    } catch (e) {
      problems.push(`cannot ask Slurm for its partitions: ${errorText(e)}`);
    }
  }
  try {
    await mkdir(runsDir, { recursive: true });
    const probe = join(runsDir, `.mtc-write-test-${process.pid}`);
    await writeFileAtomic(probe, 'ok\n');
    await rm(probe, { force: true });
  } catch (e) {
    problems.push(`the runs folder ${runsDir} is not writable (${(e as NodeJS.ErrnoException).code ?? errorText(e)}): jobs write the stage store and run folders there; use --runs with a folder on the shared filesystem that you can write`);
  }
  if (problems.length > 0) throw new SlurmError(`cannot submit to Slurm:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * Submits what is not in the store (see the module doc). Returns the submitted stages (none when
 * everything is cached), with the run folders' records (state.json, slurm.json) written.
 */
export async function submitPlan(
  plan: Plan,
  options: SlurmExecuteOptions,
): Promise<{ submitted: SubmittedStage[]; jobs: string[]; cached: string[]; skipped: string[]; recorder: RunRecorder | null; close: () => Promise<void> }> {
  const graph: RuntimeGraph = validateGraph(plan.graph);
  const client = options.client ?? new SlurmClient();
  await assertRunnable(graph, options.dataRoot, { allowOutsideDataRoot: options.allowOutsideDataRoot });
  assertPatternsMatch(graph, [...(options.force ?? []), ...(options.only ?? [])]);
  const runsDir = join(plan.storeDir, '..');
  await slurmPreflight(runsDir, options.sbatch, client, options.env);

  // A run whose jobs are still queued is not submitted twice.
  const previous = new Map<string, SlurmRecord | null>();
  const active: string[] = [];
  for (const e of plan.experiments) {
    const rec = await readSlurmRecord(e.runDir);
    previous.set(e.name, rec);
    if (!rec) continue;
    const ids = Object.values(rec.stages).filter((s) => s.submission === rec.submission).map((s) => s.job);
    const info = await client.jobs(ids);
    for (const [id, j] of info) if (!FINAL_STATES.has(j.state)) active.push(`${id} (${j.state})`);
  }
  if (active.length > 0) {
    throw new SlurmError(`jobs of this run are still queued or running: ${[...new Set(active)].join(', ')}; follow them with mtc status, or cancel them (scancel) before submitting again`);
  }

  const store = new Store(plan.storeDir);
  await store.sweep();
  const { events } = options;
  const runDirs = Object.fromEntries(plan.experiments.map((e) => [e.name, e.runDir]));
  const recorder = await RunRecorder.open(
    plan,
    store,
    { dataRoot: options.dataRoot, cacheDir: options.cacheDir, backend: options.backend, backendDescription: options.backendDescription ?? options.backend, allowOutsideDataRoot: options.allowOutsideDataRoot },
    options.resolvedSources ?? new Map(),
  );
  const unsubscribe = events.subscribe((e) => recorder.handle(e));
  const close = async () => {
    unsubscribe();
    await recorder.close();
  };
  events.emit({ type: 'run-start', graph, backend: options.backendDescription ?? options.backend, runDirs, store: store.root, jobs: 0 });

  // What is in the store: resolved top down as far as every input is known. A forced stage (--force)
  // is submitted all the same; what follows it keeps its key, so it stays cached, as in a local run.
  // --only leaves out a stage that is not selected and not stored, and whatever needs it (skipped).
  const runner = new StageRunner(graph, store, { dataRoot: options.dataRoot, cacheDir: options.cacheDir, backend: options.backend, events, allowOutsideDataRoot: options.allowOutsideDataRoot });
  const toSubmit: string[] = [];
  const cached: string[] = [];
  const skipped: string[] = [];
  const forced = new Set<string>();
  const only = options.only ?? [];
  const skip = (id: string, why: string) => {
    skipped.push(id);
    events.emit({ type: 'stage-end', stage: id, status: 'skipped', seconds: 0, error: why });
  };
  for (const s of graph.stages) {
    const blocked = s.deps.find((d) => skipped.includes(d));
    if (blocked) {
      skip(s.id, `needs '${blocked}', which was skipped`);
      continue;
    }
    const force = matchesAny(s.id, options.force);
    if (s.deps.every((d) => runner.entries.has(d))) {
      const r = await runner.resolve(s);
      const entry = await store.lookup(r.key);
      if (entry) runner.entries.set(s.id, entry);
      if (entry && !force) {
        cached.push(s.id);
        events.emit({ type: 'stage-end', stage: s.id, status: 'cached', seconds: 0, key: r.key, summary: entry.manifest.summary });
        continue;
      }
      // prepare only checks and lists a dataset that resolving it has just hashed: not worth a job (and --only never holds it back).
      if (s.kind === 'prepare') {
        const out = await runner.run(s, r, undefined, false, force);
        if (out.status !== 'done' && out.status !== 'cached') throw out.error instanceof Error ? out.error : new Error(`stage '${s.id}' ${out.status}`);
        cached.push(s.id);
        continue;
      }
    }
    if (only.length > 0 && !matchesAny(s.id, only)) {
      skip(s.id, 'not selected by --only, and not in the store');
      continue;
    }
    if (force) forced.add(s.id);
    toSubmit.push(s.id);
  }

  const owner = (id: string) => plan.experiments.find((e) => e.stages.includes(id))!.runDir;
  const jobs = planJobs(graph, toSubmit);
  const jobIds: string[] = [];
  const submitted: SubmittedStage[] = [];
  const now = new Date().toISOString();
  const byStage = new Map<string, StageJob>();
  for (const job of jobs) {
    const first = job.stages[0];
    const home = owner(first);
    const name = `mtc-${stageSlug(first)}${job.stages.length > 1 ? `+${job.stages.length - 1}` : ''}`.slice(0, 100);
    const logDir = join(home, 'slurm', 'logs');
    await mkdir(logDir, { recursive: true });
    await mkdir(join(home, 'slurm', 'jobs'), { recursive: true });
    const scriptPath = join(home, 'slurm', 'jobs', `${name}.sbatch`);
    const tasks = job.stages.map((stage) => ({ stage, runDir: owner(stage), ...(forced.has(stage) ? { force: true } : {}) }));
    await writeFileAtomic(scriptPath, batchScript({ name, tasks, logDir, mtc: options.mtc, backend: options.backend, sbatch: options.sbatch }));
    const deps = job.after.map((a) => `${a.kind}:${jobIds[a.job]}`);
    const id = await client.submit(scriptPath, deps.length > 0 ? [`--dependency=${deps.join(',')}`] : []);
    jobIds.push(id);
    for (const [i, stage] of job.stages.entries()) {
      const jid = job.stages.length > 1 ? `${id}_${i}` : id;
      const runDir = owner(stage);
      const files = stageFiles(runDir, stage);
      const output = job.stages.length > 1 ? join(logDir, `${name}-${id}_${i}.out`) : join(logDir, `${name}-${id}.out`);
      submitted.push({ stage, job: jid, runDir, ...files, output, offset: await sizeOf(files.events) });
      byStage.set(stage, { job: jid, jobId: id, submission: 0, script: scriptPath, output, runDir, submittedAt: now });
      events.emit({ type: 'stage-log', stage, message: `submitted as Slurm job ${jid}${deps.length > 0 ? ` (${deps.join(',')})` : ''}` });
      events.emit({ type: 'stage-job', stage, job: jid, state: 'PENDING' });
    }
  }
  for (const e of plan.experiments) {
    const prev = previous.get(e.name);
    const submission = (prev?.submission ?? 0) + (submitted.length > 0 ? 1 : 0);
    const stages: Record<string, StageJob> = { ...(prev?.stages ?? {}) };
    for (const id of e.stages) {
      const j = byStage.get(id);
      if (j) stages[id] = { ...j, submission };
    }
    if (prev || submitted.length > 0) await writeSlurmRecord(e.runDir, { format: 'mtc-slurm', version: 1, submission, stages });
  }
  return { submitted, jobs: jobIds, cached, skipped, recorder, close };
}

/** Reads new whole lines of an events file from `offset`; returns them and the new offset. */
async function readLines(path: string, offset: number): Promise<{ events: RunEvent[]; offset: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return { events: [], offset };
  }
  try {
    const { size } = await fh.stat();
    if (size <= offset) return { events: [], offset };
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return { events: [], offset };
    const events: RunEvent[] = [];
    for (const line of text.slice(0, end).split('\n')) {
      try {
        events.push(JSON.parse(line) as RunEvent);
      } catch {
        // not an event line
      }
    }
    return { events, offset: offset + Buffer.byteLength(text.slice(0, end + 1)) };
  } finally {
    await fh.close();
  }
}

/** Why a job that ended without its stage reporting an end failed, with the tail of its logs. */
async function jobFailure(s: SubmittedStage, info: JobInfo | undefined): Promise<{ status: 'failed' | 'skipped' | 'interrupted'; error: string }> {
  if (info?.reason === 'DependencyNeverSatisfied') {
    return { status: 'skipped', error: `not run: a stage it needs failed (Slurm: job ${s.job} ${info.state}, DependencyNeverSatisfied)` };
  }
  if (info?.state === 'CANCELLED') return { status: 'interrupted', error: `Slurm job ${s.job} was cancelled (scancel); running the same command again resubmits it` };
  const what = info ? `Slurm job ${s.job} ended ${info.state}${info.exitCode ? ` (exit code ${info.exitCode})` : ''}${info.reason && info.reason !== 'None' ? `, reason ${info.reason}` : ''}` : `Slurm no longer knows job ${s.job}`;
  const tail = (await tailOf(s.log, 12)) || (await tailOf(s.output, 12));
  return { status: 'failed', error: `${what}${tail ? `; the end of its log (${s.log}):\n${tail}` : ''}` };
}

/**
 * Follows submitted jobs until every one ended: relays each stage's events (from its events file)
 * to `events`, reads job states from Slurm, reports jobs that ended without their stage saying so
 * (killed, out of time, dependency failed) as failed or skipped, and makes a job that requeued
 * itself near its time limit eligible at once. Stops early when `signal` aborts (status `detached`).
 */
export async function followJobs(
  submitted: readonly SubmittedStage[],
  options: { events: RunEvents; client?: SlurmClient; signal?: AbortSignal; pollMs?: number },
): Promise<FollowOutcome> {
  const client = options.client ?? new SlurmClient();
  const { events, signal } = options;
  const pollMs = options.pollMs ?? 2000;
  const offsets = new Map(submitted.map((s) => [s.stage, s.offset]));
  const ended = new Map<string, StageStatus>();
  const released = new Map<string, number>();
  const unknown = new Map<string, number>();
  const requeuedAt = new Map<string, number>();
  const jobState = new Map<string, string>();
  /** Tells the UI when a job's state or reason changed (the stage tree shows it). */
  const report = (s: SubmittedStage, j: JobInfo | undefined) => {
    if (!j) return;
    const seen = `${j.state}\u0000${j.reason}`;
    if (jobState.get(s.stage) === seen) return;
    jobState.set(s.stage, seen);
    events.emit({ type: 'stage-job', stage: s.stage, job: s.job, state: j.state, ...(j.reason && j.reason !== 'None' ? { reason: j.reason } : {}) });
  };
  let firstError: string | undefined;
  const relay = async (s: SubmittedStage) => {
    const r = await readLines(s.events, offsets.get(s.stage) ?? 0);
    offsets.set(s.stage, r.offset);
    for (const e of r.events) {
      if (e.type === 'run-start' || e.type === 'run-end') continue;
      if (e.type === 'evaluation') {
        events.emit(e);
        continue;
      }
      if (!('stage' in e) || e.stage !== s.stage) continue;
      if (e.type === 'stage-end' && e.status === 'interrupted') {
        // Near its time limit the job wrote a checkpoint and requeued itself; the next attempt resumes.
        events.emit({ type: 'stage-log', stage: s.stage, message: `job ${s.job} near its time limit: checkpoint written, requeued` });
        continue;
      }
      if (e.type === 'stage-end') {
        ended.set(s.stage, e.status);
        if (e.status === 'failed') firstError ??= `stage '${s.stage}' failed: ${e.error ?? ''}`;
      }
      events.emit(e);
    }
  };
  const waitPoll = () =>
    new Promise<void>((done) => {
      const onAbort = () => {
        clearTimeout(t);
        done();
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        done();
      }, pollMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  for (;;) {
    const open = submitted.filter((s) => !ended.has(s.stage));
    if (open.length === 0) break;
    if (signal?.aborted) {
      return { status: 'detached', stages: Object.fromEntries(ended), active: open.map((s) => s.job), error: firstError };
    }
    let info: Map<string, JobInfo>;
    try {
      info = await client.jobs(open.map((s) => s.job));
    } catch {
      info = new Map();
    }
    for (const s of open) {
      const j = info.get(s.job);
      report(s, j);
      await relay(s);
      if (ended.has(s.stage)) continue;
      if (j && j.state === 'PENDING' && j.restarts > 0 && j.reason === 'BeginTime') {
        // Not at once: slurmd refuses a job whose credential was revoked (by the requeue) in the same second.
        const seen = `${s.job}#${j.restarts}`;
        const since = requeuedAt.get(seen) ?? Date.now();
        requeuedAt.set(seen, since);
        if (released.get(s.job) !== j.restarts && Date.now() - since >= RELEASE_AFTER_MS) {
          released.set(s.job, j.restarts);
          await client.releaseNow(s.job);
        }
      }
      if (j && !FINAL_STATES.has(j.state)) continue;
      // Slurm did not answer, or does not list the job yet: ask again a few times.
      if (!j && (unknown.set(s.job, (unknown.get(s.job) ?? 0) + 1).get(s.job) ?? 0) < 5) continue;
      await relay(s); // the last lines written before the job ended
      if (ended.has(s.stage)) continue;
      const f = await jobFailure(s, j);
      ended.set(s.stage, f.status);
      if (f.status === 'failed') firstError ??= `stage '${s.stage}' failed: ${f.error}`;
      events.emit({ type: 'stage-end', stage: s.stage, status: f.status, seconds: 0, error: f.error });
    }
    if (submitted.every((s) => ended.has(s.stage))) break;
    await waitPoll();
  }
  const all = [...ended.values()];
  const status: RunStatus = all.some((s) => s === 'failed' || s === 'skipped') ? 'failed' : all.includes('interrupted') ? 'interrupted' : 'done';
  return { status, stages: Object.fromEntries(ended), active: [], error: firstError };
}
