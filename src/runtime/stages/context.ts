/**
 * What a stage handler gets. Stages hand off through files only: a handler reads its inputs from
 * the finished store entries of the stages it depends on (`inputs`) and writes its outputs into
 * `workDir`; the executor then hashes them, writes the manifest and files the entry under the
 * stage's key. So any stage can run in a fresh process (`mtc run --stage ID --run DIR`).
 */
import { isAbsolute, resolve } from 'node:path';
import type { DatasetSpec, RuntimeGraph, Stage, StageKind } from '../../graph/types.js';
import type { RunEvents } from '../events.js';
import type { StageManifest, Store } from '../executor/store.js';

/** A finished upstream stage: its store folder and manifest. */
export interface StageInput {
  id: string;
  kind: StageKind;
  dir: string;
  manifest: StageManifest;
}

export interface StageContext {
  graph: RuntimeGraph;
  /** This stage's key (its work folder and store entry are filed under it). */
  key: string;
  /** Where the stage writes its outputs (relative paths there become the entry's outputs). */
  workDir: string;
  /** Finished dependencies by stage id. */
  inputs: ReadonlyMap<string, StageInput>;
  /** Folder that relative dataset roots resolve against. */
  dataRoot: string;
  /** Preprocessing cache: a folder, null for none, undefined for the default `<dataRoot>/.mtc-cache`. */
  cacheDir?: string | null;
  /** The backend tensor stages compute on (as in stage keys), e.g. `cpu`. */
  backend: string;
  events: RunEvents;
  /** Aborted on the first Ctrl-C: finish the current unit of work, save what can be resumed, throw StageInterrupted. */
  signal?: AbortSignal;
  store: Store;
  /** What the handler's `external` step found (prepare: the dataset's file listing). */
  external?: unknown;
  /**
   * Trainings: the key of their parameters without the schedule's length (total epochs and the
   * last phase's), shared by a training and its extension to more epochs.
   */
  lineage?: string;
}

/** What a handler returns besides its files. */
export interface StageResult {
  /** Facts `mtc status` shows (metrics, weights_sha256, ...). */
  summary?: Record<string, unknown>;
  /** Content digest for downstream keys, when the outputs' own hashes would depend on where the data lives. */
  digest?: string;
  /** Top-level entries of the work folder that are not outputs (deleted before the commit). */
  exclude?: (name: string) => boolean;
}

export interface ExternalContext {
  graph: RuntimeGraph;
  dataRoot: string;
  cacheDir?: string | null;
  events: RunEvents;
  signal?: AbortSignal;
  /** Announces the stage (its stage-start) before slow work, e.g. synthesising a dataset. */
  announce?: () => void;
  /** Synthesis may write outside the data root (confine.ts). */
  allowOutsideDataRoot?: boolean;
}

export interface StageHandler<S extends Stage = Stage> {
  /** Reads the stage's inputs from outside the store and returns their digest (part of the key); null when this stage has none. */
  external?: (stage: S, ctx: ExternalContext) => Promise<{ digest: string; detail: unknown } | null>;
  /** True when an interrupted run leaves a work folder to resume from (training's checkpoints). */
  resumable?: boolean;
  run: (stage: S, ctx: StageContext) => Promise<StageResult>;
}

export { StageInterrupted } from '../interrupt.js';

export function datasetSpec(ctx: { graph: RuntimeGraph }, name: string): DatasetSpec {
  const spec = ctx.graph.datasets.find((d) => d.name === name);
  if (!spec) throw new Error(`the graph names dataset '${name}' but does not declare it`);
  return spec;
}

/** A dataset's folder: absolute roots stay, relative ones resolve against the data root. */
export function datasetDir(ctx: Pick<StageContext, 'dataRoot'>, spec: DatasetSpec): string {
  return isAbsolute(spec.root) ? spec.root : resolve(ctx.dataRoot, spec.root);
}

/** The finished input `id` of this stage (a bug when absent: the executor resolves every dependency first). */
export function inputOf(ctx: StageContext, id: string): StageInput {
  const i = ctx.inputs.get(id);
  if (!i) throw new Error(`internal: stage input '${id}' is not available`);
  return i;
}
