/**
 * `mtc run FILE --executor slurm`: submit the plan's stages as Slurm jobs, then follow them in the
 * same UI as a local run (or return at once with --detach). Ctrl-C while following asks whether to
 * cancel the jobs (scancel); any answer but yes leaves them running, as --detach would.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RunEvents } from '../../runtime/events.js';
import type { Plan } from '../../runtime/executor/index.js';
import { SlurmClient, SlurmError } from '../../runtime/executor/slurm/client.js';
import { notRunMessage } from '../../runtime/executor/local.js';
import { followJobs, submitPlan } from '../../runtime/executor/slurm/executor.js';
import { STAGE_NODE_FLAGS } from '../../runtime/executor/stage-process.js';
import type { SbatchOptions } from '../../runtime/executor/slurm/script.js';
import { UserError, type CliIO } from '../io.js';

const BIN = fileURLToPath(new URL('../../../bin/mtc.js', import.meta.url));

export interface SlurmCommandOptions extends SbatchOptions {
  detach?: boolean;
  json: boolean;
  /** --force and --only, as for the local executor. */
  force?: readonly string[];
  only?: readonly string[];
}

/** One line from stdin ('' at its end, or when there is none). */
function askLine(io: CliIO, question: string): Promise<string> {
  io.err(question);
  return new Promise((resolve) => {
    if (process.stdin.destroyed || !process.stdin.readable) return resolve('');
    // The screen (Ink) lets go of a terminal's stdin when it unmounts (unref): reading the answer must keep the process alive.
    (process.stdin as NodeJS.ReadStream & { ref?: () => void }).ref?.();
    const rl = createInterface({ input: process.stdin });
    let answered = false;
    const done = (answer: string) => {
      if (answered) return;
      answered = true;
      rl.close();
      process.stdin.destroy(); // an open stdin would keep the process alive
      resolve(answer);
    };
    rl.once('line', (l) => done(l.trim()));
    rl.once('close', () => done(''));
  });
}

export async function runSlurmCommand(
  plan: Plan,
  ctx: {
    dataRoot: string; cacheDir: string | null | undefined; backend: string; resolvedSources: ReadonlyMap<string, string>; allowOutsideDataRoot?: boolean;
    attach: (events: RunEvents, onInterrupt: () => void) => Promise<() => Promise<void> | void>;
    /** The terminal screen draws the run (no lines on stderr while it is up: they would tear its frame). */
    screen?: boolean;
  },
  options: SlurmCommandOptions,
  io: CliIO,
): Promise<number> {
  const client = new SlurmClient();
  const events = new RunEvents();
  const follow = new AbortController();
  let interrupts = 0;
  const interrupt = () => {
    interrupts++;
    if (interrupts === 1) follow.abort();
    else {
      io.err('mtc: stopped following; the jobs keep running (mtc status shows them)');
      process.exit(130);
    }
  };
  process.on('SIGINT', interrupt);
  let detach: (() => Promise<void> | void) | null = null;
  try {
    const sbatch: SbatchOptions = {
      partition: options.partition, time: options.time, signalSeconds: options.signalSeconds, gres: options.gres,
      cpusPerTask: options.cpusPerTask, mem: options.mem, account: options.account, sbatchArgs: options.sbatchArgs,
    };
    let sub;
    detach = await ctx.attach(events, interrupt);
    try {
      sub = await submitPlan(plan, {
        dataRoot: ctx.dataRoot, cacheDir: ctx.cacheDir, backend: ctx.backend, allowOutsideDataRoot: ctx.allowOutsideDataRoot, events,
        mtc: [process.execPath, ...STAGE_NODE_FLAGS, BIN], sbatch, client, resolvedSources: ctx.resolvedSources, force: options.force, only: options.only,
      });
    } catch (e) {
      if (e instanceof SlurmError) throw new UserError(e.message);
      throw e;
    }
    const folders = plan.experiments.map((e) => e.runDir);
    const where = folders.length === 1 ? `run folder: ${folders[0]}` : `run folders under ${plan.storeDir.replace(/\/\.store$/, '')}`;
    // --only left these out (not selected and not stored, or needing such a stage): the run cannot end done, as for a local run.
    const notRun = sub.skipped.length > 0 ? notRunMessage(sub.skipped) : null;
    const runDirs = Object.fromEntries(plan.experiments.map((e) => [e.name, e.runDir]));
    if (sub.submitted.length === 0) {
      events.emit({ type: 'run-end', status: notRun ? 'failed' : 'done', runDirs, seconds: 0, results: [] });
      await sub.close();
      await detach();
      detach = null;
      if (notRun) throw new UserError(`run failed: nothing submitted; ${notRun}\n(${where})`);
      io.err(`mtc: nothing to submit: every stage is in the store (${where})`);
      return 0;
    }
    const summary = `${sub.submitted.length} stage(s) as ${sub.jobs.length} Slurm job(s): ${sub.jobs.join(', ')}`;
    if (options.detach) {
      await sub.close();
      await detach();
      detach = null;
      io.err(`mtc: submitted ${summary}; mtc status ${folders.length === 1 ? folders[0] : ''} follows them (${where})`.replace(/  +/g, ' '));
      if (notRun) throw new UserError(`not submitted: ${notRun}`);
      return 0;
    }
    if (!options.json && !ctx.screen) io.err(`mtc: submitted ${summary}; following them (Ctrl-C to stop following)`);
    const outcome = await followJobs(sub.submitted, { events, client, signal: follow.signal, pollMs: Number(io.env.MTC_SLURM_POLL_MS ?? 2000) });
    if (outcome.status === 'detached') {
      await detach();
      detach = null;
      const answer = await askLine(io, `mtc: cancel the ${outcome.active.length} job(s) still queued or running (scancel ${outcome.active.join(' ')})? [y/N]`);
      if (/^y(es)?$/i.test(answer)) {
        await client.cancel(outcome.active);
        for (const s of sub.submitted) {
          if (outcome.active.includes(s.job)) events.emit({ type: 'stage-end', stage: s.stage, status: 'interrupted', seconds: 0, error: `cancelled (scancel ${s.job})` });
        }
        events.emit({ type: 'run-end', status: 'interrupted', runDirs, seconds: 0, results: [] });
        await sub.close();
        io.err(`mtc: cancelled ${outcome.active.length} job(s); run the same command again to resubmit what is not done (${where})`);
        return 130;
      }
      await sub.close();
      io.err(`mtc: stopped following; the jobs keep running (mtc status shows them; ${where})`);
      return 0;
    }
    const status = outcome.status === 'done' && notRun ? 'failed' : outcome.status;
    events.emit({ type: 'run-end', status, runDirs, seconds: 0, results: [] });
    await sub.close();
    await detach();
    detach = null;
    if (status !== 'done') {
      const why = outcome.error ?? notRun ?? 'a stage failed';
      throw new UserError(`run failed: ${why}\n(${where}; mtc status shows each stage; running the same command again resubmits what is not done)`);
    }
    return 0;
  } finally {
    process.off('SIGINT', interrupt);
    if (detach) await detach();
  }
}
