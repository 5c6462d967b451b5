/**
 * Finding a trained model on disk: a run folder, a checkpoint folder (model.json + weights.bin +
 * plans.json), a folder of folds (`fold_0/`, `fold_1/`, ... each a checkpoint folder, or holding
 * `final/`), or a model package file (package.ts). Every form loads to one `InferenceModel`: the
 * plans and the weights of each fold, with nothing built on the tfjs backend yet.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { FinetuneStage, RuntimeGraph, TrainStage } from '../../graph/types.js';
import { stageSlug } from '../executor/plan.js';
import { MtDataError } from '../data/errors.js';
import { type CheckpointManifest, type CheckpointOutput, checkpointOutput, readCheckpoint } from '../model/checkpoint.js';
import { networkFromWeights } from '../model/registry.js';
import { type ModelPlans, readPlans } from './plans.js';
import { checkpointFolders, foldNumber, isDir, isFile } from './model-files.js';
import type { PredictorNetwork } from './sliding-window.js';

export interface ModelFold {
  /** Cross-validation fold, or null for a model trained on all training cases. */
  fold: number | null;
  /** Where it came from (a folder, or `FILE#fold`). */
  origin: string;
  manifest: CheckpointManifest;
  weights: Map<string, Float32Array>;
}

export interface InferenceModel {
  /** The path given. */
  origin: string;
  kind: 'checkpoint' | 'folds' | 'run' | 'package';
  plans: ModelPlans;
  folds: ModelFold[];
  /** The run folder the model belongs to, when known (for the resolved spec). */
  runDir: string | null;
}

/** A run folder (`mtc run`'s runs/EXPERIMENT/RUN_KEY/: graph.yaml, and stages/ linking to the store). */
async function isRunFolder(dir: string): Promise<boolean> {
  return (await isFile(join(dir, 'graph.yaml'))) && (await isDir(join(dir, 'stages')));
}

/**
 * The run folder's model: the final checkpoint of each fold's training of experiment `name` (default:
 * the run's own experiment, else the last one trained), through the folder's links to the store.
 */
async function runModelDirs(runDir: string, name: string | undefined): Promise<{ dir: string; fold: number | null }[]> {
  let graph: RuntimeGraph;
  try {
    graph = parseYaml(await readFile(join(runDir, 'graph.yaml'), 'utf8')) as RuntimeGraph;
  } catch (e) {
    throw MtDataError.about(join(runDir, 'graph.yaml'), `cannot be read (${(e as Error).message})`, 'Pass a run folder written by mtc run, or a checkpoint folder');
  }
  const trained = graph.stages.filter((s): s is TrainStage | FinetuneStage => s.kind === 'train' || s.kind === 'finetune');
  const available = [...new Set(trained.map((s) => s.experiment))];
  let wanted = name;
  if (!wanted) {
    const own = await readFile(join(runDir, 'run.json'), 'utf8').then((t) => (JSON.parse(t) as { experiment?: string }).experiment, () => undefined);
    wanted = own !== undefined && available.includes(own) ? own : available.at(-1);
  }
  if (!wanted || !available.includes(wanted)) {
    throw MtDataError.about(
      runDir,
      wanted ? `has no model '${wanted}' (models of this run: ${available.join(', ') || 'none'})` : 'holds no trained model',
      available.length > 0 ? `Pick one with --model NAME (one of ${available.join(', ')})` : 'Run the experiment first (mtc run FILE), or pass a checkpoint folder',
    );
  }
  const out: { dir: string; fold: number | null }[] = []; // fold null: trained on every case (`folds none`)
  for (const s of trained.filter((t) => t.experiment === wanted).sort((a, b) => (a.fold ?? -1) - (b.fold ?? -1))) {
    const dir = join(runDir, 'stages', stageSlug(s.id), 'checkpoints', 'final');
    if (await isFile(join(dir, 'model.json'))) out.push({ dir, fold: s.fold });
  }
  if (out.length === 0) {
    throw MtDataError.about(runDir, `has no finished training of '${wanted}' yet (no final checkpoint under stages/)`, 'Finish the run first (the same mtc run command resumes it)');
  }
  return out;
}

/** The run folder around a checkpoint folder (…/RUN/stages/STAGE/checkpoints/final), or null. */
export async function enclosingRun(dir: string): Promise<string | null> {
  let cur = resolve(dir);
  for (let i = 0; i < 5; i++) {
    const parent = dirname(cur);
    if (basename(parent) === 'stages' && (await isRunFolder(dirname(parent)))) return dirname(parent);
    if (parent === cur) break;
    cur = parent;
  }
  return null;
}

async function loadFold(dir: string, knownFold?: number | null): Promise<{ fold: ModelFold; plans: ModelPlans }> {
  let loaded;
  try {
    loaded = await readCheckpoint(dir);
  } catch (e) {
    throw MtDataError.about(dir, `cannot be loaded as a model: ${(e as Error).message}`, 'Point at a checkpoint folder written by mtc run (model.json, weights.bin, plans.json)');
  }
  const plans = await readPlans(dir);
  const weights = new Map<string, Float32Array>();
  for (const [k, w] of loaded.weights) weights.set(k, w.values);
  let fold = knownFold ?? foldNumber(dir);
  if (fold === null && basename(dir) === 'final') fold = foldNumber(dirname(dir));
  return { fold: { fold, origin: dir, manifest: loaded.manifest, weights }, plans };
}

/** Checks that folds are folds of one model: same preprocessing, classes and architecture. */
export function checkFoldsAgree(origin: string, plans: ModelPlans[], manifests: CheckpointManifest[]): void {
  const key = (p: ModelPlans) => JSON.stringify([p.preprocessing, p.heads.map((h) => [h.dataset, h.name, h.labels]), p.activation]);
  const archKey = (m: CheckpointManifest) => JSON.stringify([m.architecture.kind, m.architecture.patch, m.architecture.features]);
  for (let i = 1; i < plans.length; i++) {
    if (key(plans[i]) !== key(plans[0]) || archKey(manifests[i]) !== archKey(manifests[0])) {
      throw MtDataError.about(origin, `holds folds that are not folds of one model (fold ${i} differs from fold 0 in preprocessing, classes or architecture)`, 'Keep only folds of the same experiment in the folder');
    }
  }
}

export interface LoadModelOptions {
  /** Run folders: which experiment's model (default: the run's main experiment). */
  model?: string;
  /** Keep only these folds (default: all found). */
  folds?: number[];
}

/** Loads a model from a run folder, checkpoint folder, folder of folds or package file. */
export async function loadInferenceModel(path: string, options: LoadModelOptions = {}): Promise<InferenceModel> {
  let model: InferenceModel;
  if (await isFile(path)) {
    const { readModelPackage } = await import('./package.js');
    model = await readModelPackage(path);
  } else if (await isDir(path)) {
    let kind: InferenceModel['kind'] = 'checkpoint';
    let runDir = await enclosingRun(path);
    let dirs: { dir: string; fold?: number | null }[];
    if (await isRunFolder(path)) {
      dirs = await runModelDirs(path, options.model);
      kind = 'run';
      runDir = path;
    } else {
      dirs = (await checkpointFolders(path)).map((dir) => ({ dir }));
    }
    if (dirs.length === 0) {
      throw MtDataError.about(path, 'holds no model: no model.json here, in final/ or in fold_*/ folders', 'Pass a run folder, a checkpoint folder (model.json, weights.bin, plans.json) or a model package (mtc export)');
    }
    if (kind === 'checkpoint' && dirs.length > 1) kind = 'folds';
    const loaded = [];
    for (const d of dirs) loaded.push(await loadFold(d.dir, d.fold));
    checkFoldsAgree(path, loaded.map((l) => l.plans), loaded.map((l) => l.fold.manifest));
    model = { origin: path, kind, plans: loaded[0].plans, folds: loaded.map((l) => l.fold), runDir };
  } else {
    throw MtDataError.about(path, 'does not exist', 'Pass a run folder, a checkpoint folder or a model package file');
  }
  if (options.folds && options.folds.length > 0) {
    const have = model.folds.map((f) => f.fold);
    const missing = options.folds.filter((f) => !have.includes(f));
    if (missing.length > 0) {
      throw MtDataError.about(path, `has no fold ${missing.join(', ')} (folds here: ${have.map((f) => (f === null ? 'all cases' : String(f))).join(', ')})`, 'Pick folds the model has with --folds');
    }
    model = { ...model, folds: model.folds.filter((f) => f.fold !== null && options.folds!.includes(f.fold)) };
  }
  return model;
}

/** How the model's output channels become class masks: the manifest's `output` (graph/outputs.ts). */
export function outputOf(model: InferenceModel): CheckpointOutput {
  const first = model.folds[0];
  if (!first) throw MtDataError.about(model.origin, 'holds no folds to predict with', 'Check --folds');
  return checkpointOutput(first.manifest);
}

export interface LoadedNetwork extends PredictorNetwork {
  dispose(): void;
}

/** Builds one network per fold on the current tfjs backend. */
export function buildNetworks(model: InferenceModel): LoadedNetwork[] {
  const out: LoadedNetwork[] = [];
  try {
    for (const f of model.folds) out.push(networkFromWeights(f.manifest.architecture, f.manifest.heads, f.weights));
  } catch (e) {
    for (const n of out) n.dispose();
    throw MtDataError.about(model.origin, `cannot be built: ${(e as Error).message}`, 'The model files do not match this version of mtc; re-export or retrain the model');
  }
  return out;
}
