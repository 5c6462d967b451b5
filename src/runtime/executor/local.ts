/**
 * The local executor: runs a plan's stages on this machine, `jobs` at a time, in dependency order.
 *
 * For each stage it computes the key (keys.ts) from its parameters and its inputs; a stage whose
 * entry is in the store is `cached` and not run (unless `--force` names it). Otherwise the stage runs
 * in this process, or, given a launcher (`mtc run` always gives one), in a child process (`mtc run
 * --stage ID --run DIR`): training stages always, and every heavy stage (preprocess, training,
 * evaluation) with `jobs > 1`. Children read their inputs from the store and file their outputs
 * there: the same path a cluster executor takes. Nothing is passed between stages in memory.
 *
 * The first abort of `signal` (Ctrl-C) lets running stages finish their current unit of work and save
 * a checkpoint; they end `interrupted`, and no new stage starts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isGlob, matchesGlob } from '../../graph/glob.js';
import type { RuntimeGraph, Stage } from '../../graph/types.js';
import { validateGraph } from '../../graph/validate.js';
import type { EvaluationResult, RunEvents, RunStatus, StageStatus } from '../events.js';
import { isInterruption } from '../interrupt.js';
import { assertInputsUsable, UnsupportedFeatureError, unsupportedFeatures } from '../preflight.js';
import { handlerFor } from '../stages/index.js';
import type { StageInput } from '../stages/context.js';
import { missingDatasetsMessage } from '../stages/prepare.js';
import { MtDataError } from '../data/errors.js';
import { assertConfined } from '../confine.js';
import { explainChange, keyMaterial, keyOf, type KeyInput, type KeyMaterial } from './keys.js';
import { describeStage, type Plan } from './plan.js';
import { RunRecorder } from './run-folder.js';
import { Store, type StoreEntry } from './store.js';

export interface ExecuteOptions {
  /** Folder that relative dataset roots resolve against. */
  dataRoot: string;
  /** Preprocessing cache: a folder, null for none, undefined for `<dataRoot>/.mtc-cache`. */
  cacheDir?: string | null;
  /** The backend tensor stages compute on, as keys record it (`cpu`, `webgpu`, ...). */
  backend: string;
  /** A longer description of the backend, for the record. */
  backendDescription?: string;
  events: RunEvents;
  /** First abort: stop gracefully (see the module doc). */
  signal?: AbortSignal;
  /** Stages run at the same time (default 1). */
  jobs?: number;
  /** Stage id patterns to run even when cached. */
  force?: readonly string[];
  /** Stage id patterns to run; every other stage (but `prepare`, which only hashes its dataset) must be cached, else what needs it is skipped. */
  only?: readonly string[];
  /** Say, for every stage that is not cached, what changed since its last stored run. */
  explainCache?: boolean;
  /** Runs a stage in another process: training stages always, every heavy stage when jobs > 1. */
  launcher?: StageLauncher;
  /** Write the experiments' run folders (default true). */
  record?: boolean;
  /** resolved.mt text per experiment, for the run folders. */
  resolvedSources?: ReadonlyMap<string, string>;
  /** Let synthetic datasets be synthesised outside the data root (`--allow-outside-data-root`; confine.ts). */
  allowOutsideDataRoot?: boolean;
}

/** Runs one stage of a run folder in another process (`mtc run --stage ID --run DIR`). */
export interface StageLauncher {
  run(stage: string, runDir: string, options: { force: boolean; events: RunEvents; signal?: AbortSignal }): Promise<{ exitCode: number; reportedEnd: boolean }>;
}

export interface RunOutcome {
  status: RunStatus;
  results: EvaluationResult[];
  /** The first failure, when the run failed. */
  error?: unknown;
  stages: Record<string, { status: StageStatus; key?: string }>;
  runDirs: Record<string, string>;
}

/**
 * Refuses, before anything is written, a graph that uses what the runtime cannot execute
 * (UnsupportedFeatureError), inputs that do not fit it (dataset.json against the classes,
 * `pretrained "FILE"` checkpoints: preflight.ts) or data folders that are missing (MtDataError);
 * every problem in one message.
 */
export async function assertRunnable(graph: RuntimeGraph, dataRoot: string, options: { allowOutsideDataRoot?: boolean } = {}): Promise<void> {
  assertConfined(graph, dataRoot, options.allowOutsideDataRoot);
  const unsupported = unsupportedFeatures(graph);
  const missing = missingDatasetsMessage(graph, dataRoot, graph.datasets.map((d) => d.name), { synthesisable: true });
  if (unsupported.length > 0) throw new UnsupportedFeatureError(unsupported, missing);
  try {
    await assertInputsUsable(graph, dataRoot);
  } catch (e) {
    if (missing && e instanceof MtDataError) throw new MtDataError(`${e.message}\n${missing}`, { problems: e.problems });
    throw e;
  }
  if (missing) throw new MtDataError(missing);
}

const HEAVY = new Set<Stage['kind']>(['preprocess', 'train', 'finetune', 'evaluate']);
/**
 * Stages that get a process of their own whenever a launcher is given, `jobs` 1 included: a training
 * run after another one in the same process was 35 % slower (the quickstart's fine-tune after its
 * pre-training, 187 s against 137 s on an AMD EPYC Zen 4; docs/BENCHMARKS.md), from what the first
 * leaves in V8's heap.
 */
const ISOLATED = new Set<Stage['kind']>(['train', 'finetune']);

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A training's key without the length of its schedule (what it shares with its extension to more epochs). */
export function lineageOf(material: KeyMaterial): string | undefined {
  if (material.kind !== 'train' && material.kind !== 'finetune') return undefined;
  const m = structuredClone(material);
  const sched = (m.params as { schedule: { epochs?: number; phases: Array<{ epochs?: number }> } }).schedule;
  delete sched.epochs;
  delete sched.phases[sched.phases.length - 1].epochs;
  return keyOf(m);
}

export interface ResolvedStage {
  key: string;
  material: KeyMaterial;
  external?: unknown;
  lineage?: string;
}

/** Computes stage keys and runs stages in this process; shared by the executor and `mtc run --stage`. */
export class StageRunner {
  readonly entries = new Map<string, StoreEntry>();

  constructor(
    readonly graph: RuntimeGraph,
    readonly store: Store,
    private readonly options: Pick<ExecuteOptions, 'dataRoot' | 'cacheDir' | 'backend' | 'events' | 'signal' | 'allowOutsideDataRoot'>,
  ) {}

  /** The stage's key; its dependencies must be in `entries`. Runs the handler's external step (prepare: hashing). */
  async resolve(stage: Stage, announce?: () => void): Promise<ResolvedStage> {
    const handler = handlerFor(stage);
    let external: { digest: string; detail: unknown } | null | undefined;
    if (handler.external) {
      external = await handler.external(stage, { graph: this.graph, dataRoot: this.options.dataRoot, cacheDir: this.options.cacheDir, events: this.options.events, signal: this.options.signal, announce, allowOutsideDataRoot: this.options.allowOutsideDataRoot });
    }
    const deps = new Map<string, KeyInput>();
    for (const d of stage.deps) {
      const e = this.entries.get(d);
      if (!e) throw new Error(`internal: '${stage.id}' needs '${d}', which has not finished`);
      deps.set(d, { key: e.manifest.key, digest: e.manifest.digest });
    }
    const material = keyMaterial(stage, this.graph, deps, { backend: this.options.backend, external: external?.digest });
    return { key: keyOf(material), material, external: external?.detail, lineage: lineageOf(material) };
  }

  /** Names of upstream keys, for --explain-cache messages. */
  inputNames(stage: Stage): Map<string, string> {
    return new Map(stage.deps.map((d) => [this.entries.get(d)?.manifest.key ?? '', d]));
  }

  /** Why the stage is not cached: what changed since its last stored run. */
  async explain(stage: Stage, r: ResolvedStage): Promise<string[]> {
    const prev = await this.store.previousOf(stage.id, r.key);
    if (!prev) return ['no stored run of this stage'];
    const changes = explainChange(prev.material, r.material, this.inputNames(stage));
    return changes.length > 0 ? changes : ['same key material, different key (the key scheme changed)'];
  }

  announce(stage: Stage, key?: string): void {
    this.options.events.emit({ type: 'stage-start', stage: stage.id, kind: stage.kind, description: describeStage(stage), ...(key ? { key } : {}) });
  }

  /**
   * `resolve`, announcing the stage first when its external step (prepare: hashing a dataset,
   * maybe synthesising it) takes more than a second; returns whether it was announced.
   */
  async resolveAnnounced(stage: Stage): Promise<{ r: ResolvedStage; announced: boolean }> {
    let announced = false;
    const announce = () => {
      if (!announced) this.announce(stage);
      announced = true;
    };
    const timer = handlerFor(stage).external ? setTimeout(announce, 1000) : null;
    try {
      return { r: await this.resolve(stage, announce), announced };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /**
   * Runs the stage here and files its outputs; the returned status is done, interrupted or failed,
   * or cached when another process (a second `mtc run` on the same store) computed it meanwhile:
   * the stage key's lock (store.lock) is held from the work folder to the commit. `forced`
   * (--force): computed again even when an entry exists.
   */
  async run(stage: Stage, r: ResolvedStage, startedAt = performance.now(), announced = false, forced = false): Promise<{ status: 'done' | 'interrupted' | 'failed' | 'cached'; entry?: StoreEntry; error?: unknown; seconds: number }> {
    const { events, signal } = this.options;
    const handler = handlerFor(stage);
    const t0 = startedAt;
    if (!announced) this.announce(stage, r.key);
    let release: (() => Promise<void>) | undefined;
    try {
      release = await this.store.lock(r.key, stage.id, {
        signal,
        onWait: (h) => events.emit({ type: 'stage-log', stage: stage.id, message: `waiting for process ${h.pid} on ${h.host}, which is computing this stage (since ${h.startedAt})` }),
        onStale: (h) => events.emit({ type: 'stage-log', stage: stage.id, message: `removed the lock left by ${h ? `process ${h.pid} on ${h.host}, which no longer runs` : 'a process that no longer runs'}` }),
      });
      const other = forced ? null : await this.store.lookup(r.key);
      if (other) {
        this.entries.set(stage.id, other);
        const seconds = (performance.now() - t0) / 1000;
        events.emit({ type: 'stage-log', stage: stage.id, message: 'computed meanwhile by another run: using its result' });
        events.emit({ type: 'stage-end', stage: stage.id, status: 'cached', seconds, key: r.key, summary: other.manifest.summary });
        return { status: 'cached', entry: other, seconds };
      }
      const workDir = await this.store.beginWork(r.key, handler.resumable === true);
      const inputs = new Map<string, StageInput>();
      for (const d of stage.deps) {
        const e = this.entries.get(d)!;
        inputs.set(d, { id: d, kind: e.manifest.kind, dir: e.dir, manifest: e.manifest });
      }
      const result = await handler.run(stage, {
        graph: this.graph, key: r.key, workDir, inputs, dataRoot: this.options.dataRoot, cacheDir: this.options.cacheDir,
        backend: this.options.backend, events, signal, store: this.store, external: r.external, lineage: r.lineage,
      });
      const seconds = (performance.now() - t0) / 1000;
      const entry = await this.store.commit(
        r.key,
        {
          stage: stage.id,
          kind: stage.kind,
          material: r.material,
          inputStages: Object.fromEntries(stage.deps.map((d) => [this.entries.get(d)!.manifest.key, d])),
          summary: result.summary ?? {},
          seconds,
          ...(r.lineage ? { lineage: r.lineage } : {}),
          ...(result.digest ? { digest: result.digest } : {}),
        },
        result.exclude,
      );
      this.entries.set(stage.id, entry);
      events.emit({ type: 'stage-end', stage: stage.id, status: 'done', seconds, key: r.key, summary: entry.manifest.summary });
      return { status: 'done', entry, seconds };
    } catch (err) {
      const seconds = (performance.now() - t0) / 1000;
      const interrupted = isInterruption(err, signal);
      events.emit({ type: 'stage-end', stage: stage.id, status: interrupted ? 'interrupted' : 'failed', seconds, key: r.key, error: errorMessage(err) });
      return { status: interrupted ? 'interrupted' : 'failed', error: err, seconds };
    } finally {
      await release?.();
    }
  }
}

/** A cached evaluation is shown as if it had just run (its result comes from the store). */
async function replayEvaluation(entry: StoreEntry, events: RunEvents): Promise<void> {
  try {
    const { folds: _folds, ...result } = JSON.parse(await readFile(join(entry.dir, 'evaluation.json'), 'utf8')) as EvaluationResult & { folds?: unknown };
    events.emit({ type: 'evaluation', result });
  } catch {
    // an entry from an older layout: nothing to show
  }
}

/** Whether a stage id matches any of the patterns (globs, or exact ids) of `--force` and `--only`. */
export function matchesAny(id: string, patterns: readonly string[] | undefined): boolean {
  return (patterns ?? []).some((p) => (isGlob(p) ? matchesGlob(id, p) : p === id || id.startsWith(`${p}/`)));
}

/** Refuses a `--force` or `--only` pattern that names no stage of the graph. */
export function assertPatternsMatch(graph: RuntimeGraph, patterns: readonly string[]): void {
  for (const p of patterns) {
    if (graph.stages.some((s) => matchesAny(s.id, [p]))) continue;
    throw new MtDataError(`no stage of this run matches '${p}' (stages: ${graph.stages.map((s) => s.id).join(', ')})`);
  }
}

/** Why a run that left stages out failed (the local and the Slurm executor say the same). */
export function notRunMessage(skipped: readonly string[]): string {
  return `stages not run: ${skipped.join(', ')} (--only leaves out stages that are not in the store)`;
}

/**
 * Runs every stage of the plan (see the module doc) and writes the experiments' run folders.
 * Throws UnsupportedFeatureError / MtDataError before anything is written when the graph cannot run.
 */
export async function executePlan(plan: Plan, options: ExecuteOptions): Promise<RunOutcome> {
  const graph = validateGraph(plan.graph);
  await assertRunnable(graph, options.dataRoot, options);
  assertPatternsMatch(graph, [...(options.force ?? []), ...(options.only ?? [])]);
  const store = new Store(plan.storeDir);
  await store.sweep();
  const { events, signal } = options;
  const jobs = Math.max(1, options.jobs ?? 1);
  const runDirs = Object.fromEntries(plan.experiments.map((e) => [e.name, e.runDir]));
  const recorder = options.record === false ? null : await RunRecorder.open(plan, store, { dataRoot: options.dataRoot, cacheDir: options.cacheDir, backend: options.backend, backendDescription: options.backendDescription ?? options.backend, ...(options.allowOutsideDataRoot ? { allowOutsideDataRoot: true } : {}) }, options.resolvedSources ?? new Map());
  const unsubscribe = recorder ? events.subscribe((e) => recorder.handle(e)) : () => undefined;
  const results: EvaluationResult[] = [];
  const stopResults = events.subscribe((e) => {
    if (e.type === 'evaluation') results.push(e.result);
  });
  const started = performance.now();
  events.emit({ type: 'run-start', graph, backend: options.backendDescription ?? options.backend, runDirs, store: store.root, jobs });

  const runner = new StageRunner(graph, store, options);
  const status = new Map<string, StageStatus>(graph.stages.map((s) => [s.id, 'pending']));
  const keys = new Map<string, string>();
  let firstError: unknown;
  const running = new Map<string, Promise<void>>();
  const ownerRunDir = (id: string) => plan.experiments.find((e) => e.stages.includes(id))?.runDir ?? plan.experiments[0].runDir;

  const finish = (stage: Stage, st: StageStatus, error?: unknown) => {
    status.set(stage.id, st);
    if (st === 'failed') firstError ??= error;
  };
  const skip = (stage: Stage, why: string) => {
    status.set(stage.id, 'skipped');
    events.emit({ type: 'stage-end', stage: stage.id, status: 'skipped', seconds: 0, error: why });
  };

  const startStage = async (stage: Stage): Promise<void> => {
    let r: ResolvedStage;
    let announced: boolean;
    const t0 = performance.now();
    try {
      ({ r, announced } = await runner.resolveAnnounced(stage));
    } catch (err) {
      const interrupted = isInterruption(err, signal);
      events.emit({ type: 'stage-end', stage: stage.id, status: interrupted ? 'interrupted' : 'failed', seconds: (performance.now() - t0) / 1000, error: errorMessage(err) });
      finish(stage, interrupted ? 'interrupted' : 'failed', err);
      return;
    }
    keys.set(stage.id, r.key);
    const forced = matchesAny(stage.id, options.force);
    // A stage that runs in a child process looks its entry up again there, and says itself that it is damaged.
    const inChild = options.launcher !== undefined && (jobs > 1 ? HEAVY : ISOLATED).has(stage.kind);
    let damage: string | undefined;
    const sayDamage = () => {
      if (damage !== undefined) events.emit({ type: 'stage-log', stage: stage.id, message: `its stored result is damaged (${damage}): running it again` });
    };
    const cached = forced ? null : await store.lookup(r.key, { onDamage: (problem) => (damage = problem) });
    if (!inChild) sayDamage();
    if (options.explainCache) {
      events.emit({ type: 'stage-cache', stage: stage.id, key: r.key, cached: cached !== null, changes: cached ? [] : forced ? ['--force'] : await runner.explain(stage, r) });
    }
    if (cached) {
      runner.entries.set(stage.id, cached);
      events.emit({ type: 'stage-end', stage: stage.id, status: 'cached', seconds: 0, key: r.key, summary: cached.manifest.summary });
      if (stage.kind === 'evaluate') await replayEvaluation(cached, events);
      finish(stage, 'cached');
      return;
    }
    // prepare only checks and hashes a dataset (what every downstream key needs): --only never holds it back.
    if (options.only && options.only.length > 0 && stage.kind !== 'prepare' && !matchesAny(stage.id, options.only)) {
      if (inChild) sayDamage();
      skip(stage, 'not selected by --only, and not in the store');
      return;
    }
    if (signal?.aborted) {
      if (inChild) sayDamage();
      skip(stage, 'the run was interrupted');
      return;
    }
    if (inChild && options.launcher) {
      const t0 = performance.now();
      const { exitCode, reportedEnd } = await options.launcher.run(stage.id, ownerRunDir(stage.id), { force: forced, events, signal });
      const entry = await store.lookup(r.key);
      if (entry) {
        runner.entries.set(stage.id, entry);
        finish(stage, 'done');
      } else {
        const st: StageStatus = exitCode === 130 ? 'interrupted' : 'failed';
        const err = new Error(`stage '${stage.id}' ${st === 'interrupted' ? 'was interrupted' : `failed in its process (exit code ${exitCode})`}`);
        if (!reportedEnd) {
          events.emit({ type: 'stage-end', stage: stage.id, status: st, seconds: (performance.now() - t0) / 1000, key: r.key, error: err.message });
        }
        finish(stage, st, err);
      }
      return;
    }
    const out = await runner.run(stage, r, t0, announced, forced);
    finish(stage, out.status, out.error);
  };

  try {
    for (;;) {
      let progressed = false;
      for (const stage of graph.stages) {
        if (status.get(stage.id) !== 'pending' || running.has(stage.id)) continue;
        const depStates = stage.deps.map((d) => status.get(d));
        const blocked = stage.deps.find((d) => ['failed', 'interrupted', 'skipped'].includes(status.get(d) ?? ''));
        if (blocked) {
          skip(stage, `needs '${blocked}', which ${status.get(blocked) === 'failed' ? 'failed' : `was ${status.get(blocked)}`}`);
          progressed = true;
          continue;
        }
        if (!depStates.every((s) => s === 'done' || s === 'cached')) continue;
        if (signal?.aborted) {
          skip(stage, 'the run was interrupted');
          progressed = true;
          continue;
        }
        if (running.size >= jobs) break;
        status.set(stage.id, 'running');
        const p = startStage(stage)
          .catch((err: unknown) => {
            // A failure of the executor itself (the store unwritable, a child that cannot start): the stage failed.
            events.emit({ type: 'stage-end', stage: stage.id, status: 'failed', seconds: 0, error: errorMessage(err) });
            finish(stage, 'failed', err);
          })
          .finally(() => running.delete(stage.id));
        running.set(stage.id, p);
        progressed = true;
      }
      if (running.size === 0 && !progressed) break;
      if (running.size > 0 && (!progressed || running.size >= jobs)) await Promise.race(running.values());
    }
  } finally {
    await Promise.allSettled(running.values());
  }

  const all = [...status.values()];
  const runStatus: RunStatus = all.includes('failed') ? 'failed' : all.includes('interrupted') || (signal?.aborted && all.includes('skipped')) ? 'interrupted' : all.includes('skipped') ? 'failed' : 'done';
  const seconds = (performance.now() - started) / 1000;
  events.emit({ type: 'run-end', status: runStatus, runDirs, seconds, results });
  unsubscribe();
  stopResults();
  await recorder?.close();
  if (runStatus === 'failed' && firstError === undefined) {
    const skipped = graph.stages.filter((s) => status.get(s.id) === 'skipped').map((s) => s.id);
    firstError = new Error(notRunMessage(skipped));
  }
  return {
    status: runStatus,
    results,
    error: firstError,
    stages: Object.fromEntries(graph.stages.map((s) => [s.id, { status: status.get(s.id) ?? 'pending', key: keys.get(s.id) }])),
    runDirs,
  };
}

/**
 * Runs one stage of a graph whose upstream stages are all in the store (`mtc run --stage ID --run DIR`,
 * and the child processes of `--jobs N`). The stage is skipped as cached unless `force`.
 */
export async function runSingleStage(
  graph: RuntimeGraph,
  stageId: string,
  options: Pick<ExecuteOptions, 'dataRoot' | 'cacheDir' | 'backend' | 'events' | 'signal' | 'allowOutsideDataRoot'> & { storeDir: string; force?: boolean },
): Promise<{ status: StageStatus; error?: unknown; key?: string }> {
  validateGraph(graph);
  const target = graph.stages.find((s) => s.id === stageId);
  if (!target) throw new MtDataError(`the run has no stage '${stageId}' (stages: ${graph.stages.map((s) => s.id).join(', ')})`);
  const store = new Store(options.storeDir);
  const runner = new StageRunner(graph, store, options);
  const byId = new Map(graph.stages.map((s) => [s.id, s]));
  const need = new Set<string>();
  const visit = (id: string) => {
    for (const d of byId.get(id)?.deps ?? []) {
      if (!need.has(d)) {
        need.add(d);
        visit(d);
      }
    }
  };
  visit(stageId);
  for (const s of graph.stages) {
    if (!need.has(s.id)) continue;
    const r = await runner.resolve(s);
    let damage = '';
    const entry = await store.lookup(r.key, { onDamage: (p) => (damage = ` (its entry is damaged: ${p})`) });
    if (!entry) throw new MtDataError(`stage '${stageId}' needs '${s.id}', which is not in the store ${store.root} (key ${r.key.slice(0, 12)})${damage}: run it first`);
    runner.entries.set(s.id, entry);
  }
  const t0 = performance.now();
  const { r, announced } = await runner.resolveAnnounced(target);
  if (!options.force) {
    const cached = await store.lookup(r.key, { onDamage: (problem) => options.events.emit({ type: 'stage-log', stage: target.id, message: `its stored result is damaged (${problem}): running it again` }) });
    if (cached) {
      options.events.emit({ type: 'stage-end', stage: target.id, status: 'cached', seconds: 0, key: r.key, summary: cached.manifest.summary });
      return { status: 'cached', key: r.key };
    }
  }
  const out = await runner.run(target, r, t0, announced, options.force === true);
  return { status: out.status, error: out.error, key: r.key };
}
