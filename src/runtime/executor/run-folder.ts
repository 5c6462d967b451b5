/**
 * Run folders: one per experiment and resolved configuration, `<runs>/<experiment>/<run key>/`
 * (the run key hashes the experiment's resolved stages, the package version and the backend, so
 * the same command lands in the same folder and resumes there):
 *
 *   resolved.mt        the program the experiment was compiled from, imports and --set inlined
 *   graph.yaml         the experiment's part of the runtime graph
 *   run.json           how to run a stage of it again (`mtc run --stage ID --run DIR`): store, data root, backend
 *   state.json         each stage's state, key, seconds and summary; the run's status and pid
 *   events.jsonl       the event stream (progress thinned to one line per 5 s and stage)
 *   lock.json          input file hashes, package/tfjs/node versions, backend, seeds, stage keys,
 *                      the SHA-256 of each trained stage's final weights (written at the end)
 *   metrics.json       the report's figures, report.html and report.md its pages (copies of the report stage's outputs)
 *   history/STAGE.jsonl  per-epoch loss, learning rate and validation pseudo-Dice of each training
 *   stages/STAGE       a link to the stage's store entry (checkpoints/, evaluation.json, ...)
 *
 * Everything but the two append-only logs is written atomically; a reader skips a torn last line.
 */
import { appendFile, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { RuntimeGraph } from '../../graph/types.js';
import type { RunEvent, RunStatus, StageStatus } from '../events.js';
import { removeDeadTemps, writeFileAtomic } from '../io/atomic.js';
import { stageSlug, subgraph, type Plan, type PlannedExperiment } from './plan.js';
import type { Store } from './store.js';
import { packageInfo, tfjsVersion } from './versions.js';

export const RUN_FILE = 'run.json';
/** The report stage's outputs, copied into the run folder. */
const REPORT_FILES = ['metrics.json', 'report.html', 'report.md'];
export const STATE_FILE = 'state.json';

export interface RunConfig {
  format: 'mtc-run';
  version: 1;
  experiment: string;
  runKey: string;
  source: string;
  /** The store folder, relative to the run folder. */
  store: string;
  dataRoot: string;
  cacheDir: string | null | undefined;
  backend: string;
  backendDescription: string;
  /** `--allow-outside-data-root` was given (confine.ts). */
  allowOutsideDataRoot?: boolean;
}

export interface StageState {
  kind: string;
  status: StageStatus;
  key?: string;
  seconds?: number;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  summary?: Record<string, unknown>;
  /** Trainings: the last finished epoch and the last checkpoint. */
  epoch?: number;
  checkpoint?: { kind: string; epoch: number };
}

export interface RunState {
  format: 'mtc-run-state';
  version: 1;
  experiment: string;
  runKey: string;
  source: string;
  status: 'running' | RunStatus;
  /** The process running it and its host (to tell a live run from one killed with kill -9). */
  pid: number;
  host: string;
  startedAt: string;
  updatedAt: string;
  stages: Record<string, StageState>;
}

export interface LockFile {
  format: 'mtc-lock';
  version: 1;
  package: { name: string; version: string };
  tfjs: string;
  node: string;
  backend: string;
  seeds: Record<string, number>;
  inputs: Record<string, { files: Record<string, string> }>;
  stages: Record<string, { key: string | null; weights_sha256?: string }>;
}

const PROGRESS_EVERY_MS = 5000;

/** Writes every experiment's run folder from the event stream (see the module doc). */
export class RunRecorder {
  private queue: Promise<void> = Promise.resolve();
  private readonly states = new Map<string, RunState>();
  private readonly lastProgress = new Map<string, number>();
  private failure: unknown = null;

  private constructor(
    private readonly plan: Plan,
    private readonly store: Store,
  ) {}

  /** Creates the run folders (resolved.mt, graph.yaml, run.json, a fresh state.json). */
  static async open(
    plan: Plan,
    store: Store,
    config: Omit<RunConfig, 'format' | 'version' | 'experiment' | 'runKey' | 'store' | 'source'>,
    resolvedSources: ReadonlyMap<string, string>,
  ): Promise<RunRecorder> {
    const r = new RunRecorder(plan, store);
    const now = new Date().toISOString();
    for (const e of plan.experiments) {
      await mkdir(e.runDir, { recursive: true });
      // A run killed while writing its records (kill -9 between write and rename) left a temporary file.
      await removeDeadTemps(e.runDir);
      const text = resolvedSources.get(e.name);
      if (text !== undefined) await writeFileAtomic(join(e.runDir, 'resolved.mt'), text);
      await writeFileAtomic(join(e.runDir, 'graph.yaml'), toYaml(subgraph(plan.graph, e.name)));
      const cfg: RunConfig = {
        format: 'mtc-run',
        version: 1,
        experiment: e.name,
        runKey: e.runKey,
        source: plan.graph.source.file,
        store: relative(e.runDir, store.root) || '.',
        ...config,
      };
      await writeFileAtomic(join(e.runDir, RUN_FILE), `${JSON.stringify(cfg, null, 2)}\n`);
      const stages: Record<string, StageState> = {};
      for (const id of e.stages) stages[id] = { kind: plan.graph.stages.find((s) => s.id === id)?.kind ?? '?', status: 'pending' };
      r.states.set(e.name, { format: 'mtc-run-state', version: 1, experiment: e.name, runKey: e.runKey, source: plan.graph.source.file, status: 'running', pid: process.pid, host: hostname(), startedAt: now, updatedAt: now, stages });
      await r.writeState(e);
    }
    return r;
  }

  private ofStage(stage: string): PlannedExperiment[] {
    return this.plan.experiments.filter((e) => e.stages.includes(stage));
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((e: unknown) => {
      this.failure ??= e;
    });
  }

  private async writeState(e: PlannedExperiment): Promise<void> {
    const st = this.states.get(e.name);
    if (!st) return;
    st.updatedAt = new Date().toISOString();
    await writeFileAtomic(join(e.runDir, STATE_FILE), `${JSON.stringify(st, null, 2)}\n`);
  }

  /** Records one event (never blocks the caller; writes are queued in order). */
  handle(event: RunEvent): void {
    const line = `${JSON.stringify(event.type === 'run-start' ? { ...event, graph: { source: event.graph.source, stages: event.graph.stages.map((s) => s.id) } } : event)}\n`;
    const targets = 'stage' in event && typeof event.stage === 'string' ? this.ofStage(event.stage) : event.type === 'evaluation' ? this.ofStage(event.result.stage) : this.plan.experiments;
    if (event.type === 'stage-progress') {
      const now = Date.now();
      const last = this.lastProgress.get(event.stage) ?? 0;
      if (event.done !== event.total && now - last < PROGRESS_EVERY_MS) return;
      this.lastProgress.set(event.stage, now);
    }
    const touch = (patch: (s: StageState) => void) => {
      if (!('stage' in event) || typeof event.stage !== 'string') return;
      for (const e of targets) {
        const st = this.states.get(e.name)?.stages[event.stage];
        if (st) patch(st);
      }
    };
    let stateChanged = false;
    switch (event.type) {
      case 'stage-start':
        touch((s) => {
          s.status = 'running';
          if (event.key) s.key = event.key;
          s.startedAt = new Date().toISOString();
          delete s.error;
        });
        stateChanged = true;
        break;
      case 'stage-end':
        touch((s) => {
          s.status = event.status;
          if (event.key) s.key = event.key;
          s.seconds = event.seconds;
          s.endedAt = new Date().toISOString();
          if (event.error) s.error = event.error;
          if (event.summary) s.summary = event.summary;
        });
        stateChanged = true;
        break;
      case 'epoch':
        touch((s) => {
          s.epoch = event.record.epoch;
        });
        break;
      case 'checkpoint':
        touch((s) => {
          s.checkpoint = { kind: event.kind, epoch: event.epoch };
        });
        stateChanged = true;
        break;
      case 'run-end':
        for (const st of this.states.values()) st.status = event.status;
        stateChanged = true;
        break;
      default:
        break;
    }
    this.enqueue(async () => {
      for (const e of targets) {
        await appendFile(join(e.runDir, 'events.jsonl'), line);
        if (event.type === 'epoch') {
          await mkdir(join(e.runDir, 'history'), { recursive: true });
          await appendFile(join(e.runDir, 'history', `${stageSlug(event.stage)}.jsonl`), `${JSON.stringify({ ...event.record, best: event.best })}\n`);
        }
        if (event.type === 'stage-end' && (event.status === 'done' || event.status === 'cached') && event.key) {
          await this.link(e, event.stage, event.key);
          // A finished training's weights are recorded at once, not only when the run ends (it may be killed).
          if (/^(train|finetune):/.test(event.stage)) await this.writeLock(e);
        }
        if (stateChanged) await this.writeState(e);
      }
    });
  }

  /** stages/SLUG -> the store entry; the report's files copied into the run folder. */
  private async link(e: PlannedExperiment, stage: string, key: string): Promise<void> {
    const entry = this.store.entryDir(key);
    const at = join(e.runDir, 'stages', stageSlug(stage));
    await mkdir(join(e.runDir, 'stages'), { recursive: true });
    await rm(at, { force: true, recursive: false }).catch(() => undefined);
    await symlink(relative(join(e.runDir, 'stages'), entry), at, 'dir').catch(() => undefined);
    if (stage.startsWith('report:')) {
      for (const name of REPORT_FILES) {
        const bytes = await readFile(join(entry, name)).catch(() => null);
        if (bytes !== null) await writeFileAtomic(join(e.runDir, name), bytes);
      }
    }
  }

  private async writeLock(e: PlannedExperiment): Promise<void> {
    await writeFileAtomic(join(e.runDir, 'lock.json'), `${JSON.stringify(await this.lock(e), null, 2)}\n`);
  }

  /** Writes lock.json of every run folder and waits for every queued write. */
  async close(): Promise<void> {
    this.enqueue(async () => {
      for (const e of this.plan.experiments) await this.writeLock(e);
    });
    await this.queue;
    if (this.failure) throw this.failure;
  }

  private async lock(e: PlannedExperiment): Promise<LockFile> {
    const st = this.states.get(e.name);
    const graph: RuntimeGraph = this.plan.graph;
    const inputs: LockFile['inputs'] = {};
    const stages: LockFile['stages'] = {};
    const seeds: Record<string, number> = {};
    for (const id of e.stages) {
      const s = st?.stages[id];
      const stage = graph.stages.find((x) => x.id === id);
      stages[id] = { key: s?.key ?? null };
      if (stage && (stage.kind === 'train' || stage.kind === 'finetune')) {
        seeds[id] = stage.seed;
        const w = s?.summary?.weights_sha256;
        if (typeof w === 'string') stages[id].weights_sha256 = w;
      }
      if (stage?.kind === 'prepare' && s?.key) {
        try {
          const listing = JSON.parse(await readFile(join(this.store.entryDir(s.key), 'files.json'), 'utf8')) as { files: Record<string, string> };
          inputs[stage.datasets[0]] = { files: listing.files };
        } catch {
          // not prepared in this run (failed or interrupted before)
        }
      }
    }
    return {
      format: 'mtc-lock',
      version: 1,
      package: packageInfo(),
      tfjs: tfjsVersion(),
      node: process.version,
      backend: this.plan.backend,
      seeds,
      inputs,
      stages,
    };
  }
}
