/**
 * Model packages (`mtc export RUN -o FILE`): one self-contained file with everything `mtc infer`
 * needs on another machine.
 *
 *   bytes 0..7    magic "MTCPKG\r\n" (the CR LF catches text-mode transfers)
 *   bytes 8..11   uint32 LE: length H of the header
 *   H bytes       header, UTF-8 JSON: format, version, versions, plans (plans.json), the resolved spec
 *                 (graph.yaml and the .mt sources) and per fold its model.json manifest and the offset,
 *                 length and SHA-256 of its weights
 *   ...           the folds' weights.bin, one after the other
 *   32 bytes      SHA-256 of everything before it
 *
 * Reading checks the magic, the format and version, the length and both checksums, and refuses a
 * corrupt, truncated or incompatible file by name.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MtDataError } from '../data/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type CheckpointManifest, decodeWeights } from '../model/checkpoint.js';
import { type SoftwareVersions, mtcVersion, softwareVersions } from '../version.js';
import type { InferenceModel, ModelFold } from './model-source.js';
import { type ModelPlans, plansProblems } from './plans.js';

export const PACKAGE_FORMAT = 'multitalent-model-package';
export const PACKAGE_VERSION = 1;
const MAGIC = Uint8Array.from([0x4d, 0x54, 0x43, 0x50, 0x4b, 0x47, 0x0d, 0x0a]); // "MTCPKG\r\n"
const DIGEST_BYTES = 32;

export interface PackageHeader {
  format: typeof PACKAGE_FORMAT;
  version: number;
  createdAt: string;
  versions: SoftwareVersions;
  source: { path: string; experiment: string; stage: string };
  plans: ModelPlans;
  /** The resolved spec of the run that trained the model (null when exported from a bare checkpoint). */
  spec: { graph: string; sources: Record<string, string> } | null;
  folds: { fold: number | null; manifest: CheckpointManifest; offset: number; bytes: number; sha256: string }[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function float32Bytes(manifest: CheckpointManifest, weights: Map<string, Float32Array>): Uint8Array {
  const all = new Float32Array(manifest.weightsBytes / 4);
  for (const e of manifest.weights) {
    const w = weights.get(e.name);
    if (!w) throw new Error(`export: weight '${e.name}' is missing`);
    all.set(w, e.offset);
  }
  return new Uint8Array(all.buffer);
}

async function readSpec(runDir: string | null): Promise<PackageHeader['spec']> {
  if (!runDir) return null;
  let graph: string;
  try {
    graph = await readFile(join(runDir, 'graph.yaml'), 'utf8');
  } catch {
    return null;
  }
  const sources: Record<string, string> = {};
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = join(dir, n);
      const s = await stat(p);
      if (s.isDirectory()) await walk(p, `${prefix}${n}/`);
      else if (n.endsWith('.mt')) sources[`${prefix}${n}`] = await readFile(p, 'utf8');
    }
  };
  // resolved.mt: the experiment's program with its imports and --set overrides inlined (mtc run's run folder)
  const resolved = await readFile(join(runDir, 'resolved.mt'), 'utf8').catch(() => null);
  if (resolved !== null) sources['resolved.mt'] = resolved;
  await walk(join(runDir, 'spec'), '');
  return { graph, sources };
}

/** The package's bytes for `model` (see the module doc). */
export async function encodeModelPackage(model: InferenceModel): Promise<Uint8Array> {
  const blobs = model.folds.map((f) => float32Bytes(f.manifest, f.weights));
  let offset = 0;
  const folds = model.folds.map((f, i) => {
    const entry = { fold: f.fold, manifest: f.manifest, offset, bytes: blobs[i].byteLength, sha256: sha256(blobs[i]) };
    offset += blobs[i].byteLength;
    return entry;
  });
  const header: PackageHeader = {
    format: PACKAGE_FORMAT,
    version: PACKAGE_VERSION,
    createdAt: new Date().toISOString(),
    versions: softwareVersions(),
    source: { path: model.origin, experiment: model.plans.experiment, stage: model.plans.stage },
    plans: model.plans,
    spec: await readSpec(model.runDir),
    folds,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const total = MAGIC.length + 4 + json.length + offset + DIGEST_BYTES;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  let at = MAGIC.length + 4 + json.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  out.set(createHash('sha256').update(out.subarray(0, at)).digest(), at);
  return out;
}

/** Writes `model` as a package file, atomically; returns its size in bytes. */
export async function writeModelPackage(model: InferenceModel, file: string): Promise<number> {
  const bytes = await encodeModelPackage(model);
  await writeFileAtomic(file, bytes);
  return bytes.byteLength;
}

const REEXPORT = 'Export it again with mtc export RUN -o FILE and copy it in binary mode';

/** Parses and verifies a package (see the module doc); `path` names it in errors. */
export function decodeModelPackage(path: string, bytes: Uint8Array): { header: PackageHeader; model: InferenceModel } {
  const minimum = MAGIC.length + 4 + 2 + DIGEST_BYTES;
  if (bytes.byteLength < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw MtDataError.about(path, 'is not a multitalent model package (wrong magic bytes)', 'Pass a file written by mtc export, a run folder or a checkpoint folder');
  }
  if (bytes.byteLength < minimum) throw MtDataError.about(path, `is truncated (${bytes.byteLength} bytes)`, REEXPORT);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const dataStart = MAGIC.length + 4 + headerLength;
  if (dataStart + DIGEST_BYTES > bytes.byteLength) throw MtDataError.about(path, 'is truncated (the header runs past the end of the file)', REEXPORT);
  let header: PackageHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(MAGIC.length + 4, dataStart))) as PackageHeader;
  } catch {
    throw MtDataError.about(path, 'is corrupt (its header is not valid JSON)', REEXPORT);
  }
  if (header.format !== PACKAGE_FORMAT) throw MtDataError.about(path, `is not a multitalent model package (format ${JSON.stringify(header.format)})`, REEXPORT);
  if (typeof header.version !== 'number' || header.version > PACKAGE_VERSION) {
    throw MtDataError.about(
      path,
      `is a model package of version ${String(header.version)}, written by mtc ${header.versions?.mtc ?? '?'}; this mtc (${mtcVersion()}) reads version ${PACKAGE_VERSION}`,
      'Update mtc to the version that wrote the package, or export the model again with this one',
    );
  }
  const blobBytes = (header.folds ?? []).reduce((s, f) => s + f.bytes, 0);
  const expected = dataStart + blobBytes + DIGEST_BYTES;
  if (bytes.byteLength < expected) throw MtDataError.about(path, `is truncated (${bytes.byteLength} bytes of ${expected})`, REEXPORT);
  if (bytes.byteLength > expected) throw MtDataError.about(path, `is corrupt (${bytes.byteLength - expected} unexpected bytes at the end)`, REEXPORT);
  const digest = createHash('sha256').update(bytes.subarray(0, expected - DIGEST_BYTES)).digest();
  if (!digest.equals(bytes.subarray(expected - DIGEST_BYTES))) throw MtDataError.about(path, 'is corrupt (checksum mismatch)', REEXPORT);
  const plansProblemsFound = plansProblems(header.plans);
  if (plansProblemsFound.length > 0) throw MtDataError.about(path, `holds plans this mtc cannot use: ${plansProblemsFound.join('; ')}`, 'Export the model with this version of mtc');
  if (!Array.isArray(header.folds) || header.folds.length === 0) throw MtDataError.about(path, 'holds no model weights', REEXPORT);
  const folds: ModelFold[] = header.folds.map((f, i) => {
    const m = f.manifest;
    if (m?.format !== CHECKPOINT_FORMAT || m.version !== CHECKPOINT_VERSION) {
      throw MtDataError.about(path, `holds weights in format ${String(m?.format)} v${String(m?.version)}; this mtc reads ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION}`, 'Use the mtc version that wrote the package');
    }
    const blob = bytes.subarray(dataStart + f.offset, dataStart + f.offset + f.bytes);
    if (sha256(blob) !== f.sha256) throw MtDataError.about(path, `is corrupt (the weights of fold ${f.fold ?? i} do not match their checksum)`, REEXPORT);
    let weights: Map<string, { values: Float32Array }>;
    try {
      weights = decodeWeights(m, blob, `${path}#${f.fold ?? i}`);
    } catch (e) {
      throw MtDataError.about(path, `is corrupt (${(e as Error).message})`, REEXPORT);
    }
    const values = new Map<string, Float32Array>();
    for (const [k, w] of weights) values.set(k, w.values);
    return { fold: f.fold, origin: `${path}#${f.fold ?? 'all'}`, manifest: m, weights: values };
  });
  return { header, model: { origin: path, kind: 'package', plans: header.plans, folds, runDir: null } };
}

export async function readModelPackage(path: string): Promise<InferenceModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw MtDataError.about(path, `cannot be read (${(e as Error).message})`, 'Check the path and its permissions');
  }
  return decodeModelPackage(path, bytes).model;
}
