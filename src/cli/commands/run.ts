import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { resolvedSources } from '../../compiler/index.js';
import type { RuntimeGraph } from '../../graph/types.js';
import { validateGraph } from '../../graph/validate.js';
import { expectedBackend } from '../../runtime/backend.js';
import { RunEvents, type RunEvent } from '../../runtime/events.js';
import {
  assertRunnable, executePlan, makePlan, packageInfo, previewPlan, RUN_FILE, runSingleStage, stageParameters, describeStage, STAGE_NODE_FLAGS,
  type RunConfig, type StageLauncher,
} from '../../runtime/executor/index.js';
import type { SbatchOptions } from '../../runtime/executor/slurm/script.js';
import { initRuntime, type BackendChoice } from '../../runtime/setup.js';
import { attachJsonRenderer, attachPlainRenderer } from '../../ui/plain.js';
import { attachScreen } from '../../ui/screen/host.js';
import { UserError, type CliIO } from '../io.js';
import { compileFile } from './compile.js';

export interface RunCommandOptions {
  /** `-e`: experiment names, family names or globs (repeatable). */
  experiment?: string[];
  /** Every experiment of the file, family expansions included. */
  all?: boolean;
  /** `--set PATH=VALUE` overrides. */
  set?: string[];
  data?: string;
  runs: string;
  /** Preprocessing cache folder; false disables it; undefined means `<data root>/.mtc-cache`. */
  cache?: string | false;
  backend: BackendChoice;
  tui: boolean;
  json: boolean;
  dryRun: boolean;
  jobs?: number;
  force?: string[];
  only?: string[];
  explainCache?: boolean;
  /** `--stage ID --run DIR`: run one stage of an existing run folder (what `--jobs` and cluster executors call). */
  stage?: string;
  run?: string;
  /** With --stage: run it even when it is in the store. */
  forceStage?: boolean;
  /** `local` (default) or `slurm` (run-slurm.ts), with the sbatch options and --detach. */
  executor?: 'local' | 'slurm';
  /** --partition, --time, --signal-lead, --gres, --cpus-per-task, --mem, --account (as SbatchOptions); --sbatch-arg (repeatable). */
  sbatch?: Omit<SbatchOptions, 'sbatchArgs'>;
  sbatchArg?: string[];
  detach?: boolean;
  /** Let a synthetic dataset's root lie outside the data root (docs/trust.md). */
  allowOutsideDataRoot?: boolean;
}

const BIN = fileURLToPath(new URL('../../../bin/mtc.js', import.meta.url));

/**
 * Set in the environment of the stage processes a `mtc run` starts. Ctrl-C in a terminal sends
 * SIGINT to the whole process group, the stages included, so a stage would get it twice (from the
 * terminal and forwarded by its parent) and take the second as "abort at once". A stage process with
 * this variable ignores SIGINT and takes its parent's SIGTERM as the interrupt instead.
 */
export const STAGE_CHILD_ENV = 'MTC_STAGE_CHILD';

/** The arguments of `node` for a stage process: V8's flags for it (STAGE_NODE_FLAGS), then `mtc run --stage ID --run DIR --json`. */
export function stageProcessArgs(stage: string, runDir: string, backend: string, force: boolean): string[] {
  return [...STAGE_NODE_FLAGS, BIN, 'run', '--stage', stage, '--run', runDir, '--json', '--backend', backend, ...(force ? ['--force-stage'] : [])];
}

/** Runs stages as `mtc run --stage ID --run DIR --json` child processes, relaying their events. */
class ProcessLauncher implements StageLauncher {
  readonly children = new Set<ChildProcess>();

  constructor(private readonly backend: string) {}

  run(stage: string, runDir: string, options: { force: boolean; events: RunEvents; signal?: AbortSignal }): Promise<{ exitCode: number; reportedEnd: boolean }> {
    const args = stageProcessArgs(stage, runDir, this.backend, options.force);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [STAGE_CHILD_ENV]: '1' } });
    this.children.add(child);
    let reportedEnd = false;
    let buffered = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let e: RunEvent;
        try {
          e = JSON.parse(line) as RunEvent;
        } catch {
          continue;
        }
        if (e.type === 'run-start' || e.type === 'run-end') continue;
        if (e.type === 'stage-end' && e.stage === stage) reportedEnd = true;
        options.events.emit(e);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      stderr = (stderr + c).slice(-4000);
    });
    const onAbort = () => child.kill('SIGTERM'); // the child's interrupt (STAGE_CHILD_ENV)
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise((done) => {
      child.on('close', (code, sig) => {
        this.children.delete(child);
        options.signal?.removeEventListener('abort', onAbort);
        const exitCode = code ?? (sig === 'SIGINT' || sig === 'SIGTERM' ? 130 : 137);
        if (exitCode !== 0 && !reportedEnd) {
          options.events.emit({ type: 'stage-end', stage, status: exitCode === 130 ? 'interrupted' : 'failed', seconds: 0, error: `its process exited with code ${exitCode}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}` });
          reportedEnd = true;
        }
        done({ exitCode, reportedEnd });
      });
    });
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }
}

/** Whether the run draws the Ink screen (an interactive terminal, not --json, not --no-tui). */
export function usesScreen(options: RunCommandOptions, io: CliIO): boolean {
  return !options.json && options.tui && io.isTTY;
}

/** The screen runs in a worker thread (src/ui/screen): the training's thread never loads React or Ink. */
function renderer(events: RunEvents, options: RunCommandOptions, io: CliIO, onInterrupt: () => void, onFallback?: () => void): () => Promise<void> | void {
  if (options.json) return attachJsonRenderer(events, io.out);
  if (usesScreen(options, io)) return attachScreen(events, { onInterrupt, onFallback, write: io.out, warn: io.err });
  return attachPlainRenderer(events, { write: io.out });
}

/**
 * Ctrl-C handling: the first SIGINT asks the run to stop after the current iteration (a checkpoint
 * is written; exit 130); a second one aborts at once. A stage process started by `mtc run` listens
 * for SIGTERM instead (`signal`), and its SIGINTs are ignored (STAGE_CHILD_ENV).
 */
export function interruptHandling(
  io: CliIO,
  onHardStop: () => void,
  /** Whether the screen is drawing (it then says so itself); asked at each interrupt, as the screen may have given way to plain lines. */
  screen: boolean | (() => boolean) = false,
  signal: 'SIGINT' | 'SIGTERM' = 'SIGINT',
): { controller: AbortController; interrupt: () => void; dispose: () => void } {
  const controller = new AbortController();
  let count = 0;
  const interrupt = () => {
    count++;
    if (count === 1) {
      // The screen says so itself (a line on stderr would tear its frame).
      const onScreen = typeof screen === 'function' ? screen() : screen;
      if (!onScreen) io.err('mtc: stopping after the current iteration and writing a checkpoint (Ctrl-C again to abort at once)');
      controller.abort();
    } else {
      io.err('mtc: aborted');
      onHardStop();
      process.exit(130);
    }
  };
  const ignore = () => undefined; // a listener replaces Node's default of exiting at once
  process.on(signal, interrupt);
  if (signal !== 'SIGINT') process.on('SIGINT', ignore);
  return {
    controller,
    interrupt,
    dispose: () => {
      process.off(signal, interrupt);
      process.off('SIGINT', ignore);
    },
  };
}

function resolveDirs(options: RunCommandOptions, io: CliIO): { dataRoot: string; runsDir: string; cacheDir: string | null | undefined } {
  return {
    dataRoot: resolve(io.cwd, options.data ?? io.env.MT_DATA ?? 'data'),
    runsDir: resolve(io.cwd, options.runs),
    cacheDir: options.cache === false ? null : options.cache === undefined ? undefined : resolve(io.cwd, options.cache),
  };
}

/** `mtc run FILE`: compile the selected experiments into one plan and execute it (or show it with --dry-run). */
export async function runCommand(file: string | undefined, options: RunCommandOptions, io: CliIO): Promise<number> {
  if (options.stage !== undefined || options.run !== undefined) return runStageCommand(options, io);
  if (file === undefined) throw new UserError('mtc run needs an .mt file (or --stage ID --run DIR)');
  const { graph, program } = await compileFile(file, { experiment: options.experiment, all: options.all, set: options.set }, io);
  const { dataRoot, runsDir, cacheDir } = resolveDirs(options, io);
  const backendId = expectedBackend(options.backend);
  const plan = makePlan(graph, { runsDir, backend: backendId });
  if (options.dryRun) return dryRun(graph, plan, { dataRoot, cacheDir, backend: backendId, explain: Boolean(options.explainCache), allowOutsideDataRoot: options.allowOutsideDataRoot }, io);

  await assertRunnable(graph, dataRoot, { allowOutsideDataRoot: options.allowOutsideDataRoot }); // before anything is written
  const version = packageInfo().version;
  const sources = resolvedSources(
    program,
    graph.source.experiments,
    (e) => [
      `resolved.mt of experiment '${e}', from ${file} (imports and --set overrides inlined) by mtc ${version}.`,
      'Running it anywhere (`mtc run resolved.mt`) gives the same stages with the same keys.',
    ],
    // A checkpoint path relative to its .mt file would not resolve from the run folder: make it absolute.
    (mtFile, path) => (isAbsolute(path) ? path : resolve(dirname(mtFile), path)), // file paths are relative to process.cwd() (argPath)
  );
  if (options.executor === 'slurm') {
    if ((options.jobs ?? 1) > 1) {
      throw new UserError(
        `--jobs ${options.jobs} is for the local executor: with --executor slurm every stage is a job, and Slurm decides how many run at the same time `
          + "(the partition's and your account's limits); leave --jobs out",
      );
    }
    const { runSlurmCommand } = await import('./run-slurm.js');
    const attach = async (events: RunEvents, onInterrupt: () => void) => renderer(events, options, io, onInterrupt);
    return runSlurmCommand(plan, { dataRoot, cacheDir, backend: backendId, resolvedSources: sources, attach, allowOutsideDataRoot: options.allowOutsideDataRoot,
      screen: usesScreen(options, io),
    }, {
      ...options.sbatch, sbatchArgs: options.sbatchArg, detach: options.detach, json: options.json, force: options.force, only: options.only,
    }, io);
  }
  const runtime = await initRuntime(options.backend);
  if (runtime.backend !== backendId) throw new UserError(`internal: expected the ${backendId} backend, got ${runtime.backend}`);
  const events = new RunEvents();
  const launcher = new ProcessLauncher(runtime.backend);
  let drawing = usesScreen(options, io);
  const { controller, interrupt, dispose } = interruptHandling(io, () => launcher.killAll(), () => drawing);
  const detach = renderer(events, options, io, interrupt, () => (drawing = false));
  try {
    // The screen writes its last frame whatever happens, before any message of this command.
    const outcome = await executePlan(plan, {
      dataRoot, cacheDir, backend: runtime.backend, backendDescription: runtime.description, events, signal: controller.signal,
      jobs: options.jobs, force: options.force, only: options.only, explainCache: options.explainCache, launcher, resolvedSources: sources,
      allowOutsideDataRoot: options.allowOutsideDataRoot,
    }).finally(detach);
    const where = Object.values(outcome.runDirs);
    const folders = where.length === 1 ? `run folder: ${where[0]}` : `run folders under ${runsDir}`;
    if (outcome.status === 'interrupted') {
      io.err(`mtc: interrupted; run the same command again to resume (${folders})`);
      return 130;
    }
    if (outcome.status === 'failed') {
      const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error ?? 'a stage failed');
      throw new UserError(`run failed: ${reason}\n(${folders})`);
    }
    return 0;
  } finally {
    dispose();
  }
}

/** `mtc run --stage ID --run DIR`: one stage of a run folder, its inputs read from the store. */
async function runStageCommand(options: RunCommandOptions, io: CliIO): Promise<number> {
  if (options.stage === undefined || options.run === undefined) throw new UserError('--stage ID and --run DIR go together');
  const runDir = resolve(io.cwd, options.run);
  let cfg: RunConfig;
  let graph: RuntimeGraph;
  try {
    cfg = JSON.parse(await readFile(join(runDir, RUN_FILE), 'utf8')) as RunConfig;
    graph = validateGraph(parseYaml(await readFile(join(runDir, 'graph.yaml'), 'utf8')));
  } catch (e) {
    throw new UserError(`${runDir} is not a run folder (${RUN_FILE} and graph.yaml are read from it): ${(e as Error).message}`);
  }
  const runtime = await initRuntime(options.backend === 'auto' ? (cfg.backend as BackendChoice) : options.backend);
  const events = new RunEvents();
  const launched = io.env[STAGE_CHILD_ENV] === '1';
  const { controller, interrupt, dispose } = interruptHandling(io, () => undefined, false, launched ? 'SIGTERM' : 'SIGINT');
  const detach = renderer(events, { ...options, tui: false }, io, interrupt);
  try {
    const out = await runSingleStage(graph, options.stage, {
      dataRoot: cfg.dataRoot, cacheDir: cfg.cacheDir, backend: runtime.backend, events, signal: controller.signal,
      storeDir: resolve(runDir, cfg.store), force: options.forceStage, allowOutsideDataRoot: cfg.allowOutsideDataRoot,
    });
    await detach();
    if (out.status === 'interrupted') return 130;
    if (out.status === 'failed') {
      if (!options.json) io.err(`mtc: stage '${options.stage}' failed: ${out.error instanceof Error ? out.error.message : String(out.error)}`);
      return 1;
    }
    return 0;
  } finally {
    dispose();
  }
}

const MARK: Record<string, string> = { cached: 'cached', run: 'run', resume: 'resume' };

async function dryRun(graph: RuntimeGraph, plan: ReturnType<typeof makePlan>, options: { dataRoot: string; cacheDir: string | null | undefined; backend: string; explain: boolean; allowOutsideDataRoot?: boolean }, io: CliIO): Promise<number> {
  const preview = await previewPlan(plan, options);
  const names = graph.source.experiments;
  io.out(`plan for ${names.length === 1 ? `experiment '${names[0]}'` : `${names.length} experiments`} (${graph.stages.length} stages, backend ${options.backend}, data root ${options.dataRoot}):`);
  for (const e of plan.experiments) io.out(`  run folder of ${e.name}: ${e.runDir}`);
  const counts = { cached: 0, run: 0, resume: 0 };
  preview.stages.forEach((p, i) => {
    counts[p.status]++;
    const stage = graph.stages.find((s) => s.id === p.id)!;
    io.out(`${String(i + 1).padStart(3)}. ${MARK[p.status].padEnd(6)} ${p.id}${p.key ? `  (key ${p.key.slice(0, 12)})` : ''}`);
    io.out(`       ${describeStage(stage)}${stage.deps.length > 0 ? `; after ${stage.deps.join(', ')}` : ''}`);
    for (const line of stageParameters(stage)) io.out(`       ${line}`);
    for (const n of p.notes) io.out(`       - ${n}`);
  });
  io.out(`${counts.run + counts.resume} stage(s) would run${counts.resume > 0 ? ` (${counts.resume} resuming)` : ''}, ${counts.cached} cached`);
  if (preview.synthesised.length > 0) io.out(`synthesised on first use: ${preview.synthesised.join(', ')}`);
  let ok = true;
  if (preview.missingData) {
    io.out(`note: ${preview.missingData}`);
    ok = false;
  }
  if (preview.unsupported.length > 0) {
    io.out('note: the runtime cannot execute this plan yet:');
    for (const u of preview.unsupported) io.out(`  - ${u}`);
    ok = false;
  }
  if (preview.inputProblems.length > 0) {
    io.out("note: the run's inputs do not fit the experiment:");
    for (const u of preview.inputProblems) io.out(`  - ${u.replace(/\n/g, '\n    ')}`);
    ok = false;
  }
  if (!ok) {
    io.err('mtc: mtc run would stop before training (see the notes above)');
    return 1;
  }
  return 0;
}
