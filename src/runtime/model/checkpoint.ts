import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec, OutputLayout } from '../../graph/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { isHead, networkFromWeights, type Network } from './registry.js';

/**
 * Checkpoint folder layout:
 *   model.json  manifest: format, architecture, heads (the network's output channels), output (how
 *               the channels become class masks, see CheckpointOutput), and per weight its name,
 *               shape and offset (in float32 elements) into weights.bin, plus the byte length of weights.bin
 *   weights.bin all weights, float32 little-endian, concatenated in manifest order
 * Each file is written atomically (temp file + rename); weights.bin first, model.json last, so a
 * readable model.json always describes a complete weights.bin (checked by its length on load).
 */

export const CHECKPOINT_FORMAT = 'multitalent-unet-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface WeightEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements into weights.bin. */
  offset: number;
}

/**
 * The `output` field of model.json: how the network's output channels (`heads` of the manifest, in
 * channel order) become the masks of `classes` (graph/outputs.ts is the definition):
 * - `{ activation: 'sigmoid', classes }`: channel k is classes[k]'s independent sigmoid; a class's
 *   mask is p > 0.5 (classes may overlap). `heads` and `classes` are the same list.
 * - `{ activation: 'softmax', labels, classes }`: one softmax over the channels; channel k stands for
 *   label value labels[k] (labels[0] = 0, the background); the label map is the argmax channel's
 *   label, and a class's mask is the voxels whose label is one of the class's `labels`.
 * Manifests written before this field existed are sigmoid, with classes = heads.
 */
export type CheckpointOutput = OutputLayout & { classes: HeadSpec[] };

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  architecture: ArchitectureSpec;
  /** The network's output channels, in order (for a sigmoid output: its classes). */
  heads: HeadSpec[];
  /** How the channels become class masks; absent in older manifests (then sigmoid, classes = heads). */
  output?: CheckpointOutput;
  weightsBytes: number;
  weights: WeightEntry[];
}

/** A manifest's output description (older manifests: sigmoid with one channel per class). */
export function checkpointOutput(manifest: Pick<CheckpointManifest, 'heads' | 'output'>): CheckpointOutput {
  return manifest.output ?? { activation: 'sigmoid', classes: manifest.heads.map((h) => ({ ...h, labels: [...h.labels] })) };
}

/**
 * Writes `model` to `dir`. `output` describes its channels (default: one sigmoid per head, the
 * heads being the classes).
 */
export async function saveCheckpoint(model: Network, dir: string, output?: { layout: OutputLayout; classes: HeadSpec[] }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries: WeightEntry[] = [];
  let total = 0;
  for (const [name, v] of model.params) {
    entries.push({ name, shape: [...v.shape], offset: total });
    total += v.size;
  }
  const all = new Float32Array(total);
  for (const [name, v] of model.params) {
    const e = entries.find((x) => x.name === name);
    if (e) all.set((await v.data()) as Float32Array, e.offset);
  }
  const bytes = new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  if (!littleEndian()) throw new Error('checkpoints are little-endian; big-endian hosts are not supported');
  await writeFileAtomic(join(dir, 'weights.bin'), bytes);
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    architecture: model.architecture,
    heads: model.heads,
    output: output ? { ...structuredClone(output.layout), classes: structuredClone(output.classes) } : checkpointOutput({ heads: model.heads }),
    weightsBytes: bytes.byteLength,
    weights: entries,
  };
  await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(manifest, null, 2) + '\n');
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

export interface LoadedWeights {
  manifest: CheckpointManifest;
  weights: Map<string, { shape: number[]; values: Float32Array }>;
}

/**
 * The checkpoint folder a `pretrained "PATH"` names: the folder itself, or the folder of its
 * model.json; relative paths resolve against the working directory (the compiler has already made
 * them relative to the .mt file that names them).
 */
export function checkpointDirOf(path: string): string {
  const abs = resolve(path);
  return basename(abs) === 'model.json' ? dirname(abs) : abs;
}

/** Reads and checks a checkpoint's model.json (not its weights). */
export async function readCheckpointManifest(dir: string): Promise<CheckpointManifest> {
  const manifestPath = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (err) {
    throw new Error(`no checkpoint at ${dir}: cannot read model.json (${(err as Error).message})`);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(text) as CheckpointManifest;
  } catch (err) {
    throw new Error(`${manifestPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (manifest.format !== CHECKPOINT_FORMAT || manifest.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `${manifestPath}: unsupported checkpoint format '${String(manifest.format)}' version ${String(manifest.version)} (expected ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION})`,
    );
  }
  return manifest;
}

/** Reads and checks a checkpoint folder without building a model. */
export async function readCheckpoint(dir: string): Promise<LoadedWeights> {
  const manifestPath = join(dir, 'model.json');
  const manifest = await readCheckpointManifest(dir);
  const buf = await readFile(join(dir, 'weights.bin'));
  return { manifest, weights: decodeWeights(manifest, buf, dir) };
}

/** The weights of `manifest` from the bytes of its weights.bin; `where` names the source in errors. */
export function decodeWeights(manifest: CheckpointManifest, buf: Uint8Array, where: string): Map<string, { shape: number[]; values: Float32Array }> {
  if (buf.byteLength !== manifest.weightsBytes) {
    throw new Error(`${where}/weights.bin has ${buf.byteLength} bytes, model.json expects ${manifest.weightsBytes}`);
  }
  // Copy into an aligned buffer (Buffer's byteOffset need not be a multiple of 4).
  const all = new Float32Array(buf.byteLength / 4);
  new Uint8Array(all.buffer).set(buf);
  const weights = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const e of manifest.weights) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (e.offset < 0 || e.offset + size > all.length) {
      throw new Error(`${where}: weight '${e.name}' lies outside weights.bin`);
    }
    weights.set(e.name, { shape: e.shape, values: all.subarray(e.offset, e.offset + size) });
  }
  return weights;
}

/** Loads a saved model (architecture, heads and weights). */
export async function loadCheckpoint(dir: string): Promise<Network> {
  const { manifest, weights } = await readCheckpoint(dir);
  const values = new Map<string, Float32Array>();
  for (const [name, w] of weights) values.set(name, w.values);
  return networkFromWeights(manifest.architecture, manifest.heads, values);
}

export interface PretrainedInit {
  /** Parameters copied from the checkpoint. */
  copied: string[];
  /** Model parameters left at their fresh initialisation, with the reason. */
  skipped: { name: string; reason: string }[];
  /** Checkpoint weights the model has no use for (e.g. the source heads). */
  unused: string[];
}

/**
 * Fine-tuning initialisation: copies every backbone weight whose name and shape match from the
 * checkpoint into `model`; the output heads always keep their fresh initialisation.
 */
export async function initFromPretrained(model: Network, checkpointDir: string): Promise<PretrainedInit> {
  const { weights } = await readCheckpoint(checkpointDir);
  const result: PretrainedInit = { copied: [], skipped: [], unused: [] };
  for (const [name, v] of model.params) {
    if (isHead(model.architecture, name)) {
      result.skipped.push({ name, reason: 'output head (freshly initialised)' });
      continue;
    }
    const w = weights.get(name);
    if (!w) {
      result.skipped.push({ name, reason: 'not in checkpoint' });
      continue;
    }
    if (w.shape.join(',') !== v.shape.join(',')) {
      result.skipped.push({ name, reason: `shape [${w.shape.join(', ')}] in checkpoint, [${v.shape.join(', ')}] in model` });
      continue;
    }
    tf.tidy(() => v.assign(tf.tensor(w.values, v.shape, 'float32')));
    result.copied.push(name);
  }
  for (const name of weights.keys()) if (!model.params.has(name)) result.unused.push(name);
  return result;
}
