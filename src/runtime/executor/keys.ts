/**
 * Stage keys: what decides whether a stage's stored outputs can be reused.
 *
 * A stage's key is the SHA-256 of its key material: the stage kind and its code version, the
 * package version, the backend (stages that compute with tensors only), the stage's resolved
 * parameters, the content digest of its external inputs (prepare: the dataset's files), and for
 * each upstream stage its key and the content digest of its outputs. Stage ids are labels and never
 * part of a key: a reference to another stage is replaced by that stage's key, so the same work
 * gets the same key whatever the stages are called (e.g. compiled from `resolved.mt`).
 *
 * Left out on purpose, because they do not change a stage's outputs: the dataset's folder (`root`:
 * its files' contents count, not where they are), where a `pretrained "FILE"` checkpoint lies (its
 * contents count), the declared case counts and the sampling shares derived from them (the runtime
 * recounts from the data), and `schedule.checkpointEvery`.
 */
import { createHash } from 'node:crypto';
import type { DatasetSpec, RuntimeGraph, Stage } from '../../graph/types.js';
import { backendNumerics, packageInfo, STAGE_CODE, TENSOR_STAGES } from './versions.js';

export const KEY_SCHEME = 'mtc-stage-key/1';

export interface KeyInput {
  key: string;
  digest: string;
}

export interface KeyMaterial {
  scheme: typeof KEY_SCHEME;
  kind: Stage['kind'];
  code: string;
  package: string;
  /** The backend tensor stages computed on; null for the others. */
  backend: string | null;
  /** Tensor stages on the cpu backend: the native kernels' numerics class (versions.ts `backendNumerics`); else null. Absent in keys of older versions. */
  numerics?: string | null;
  params: unknown;
  /** Digest of external inputs (prepare: the dataset's files); null when the stage has none. */
  external: string | null;
  /** Upstream stages: key and output digest, sorted by key. */
  inputs: KeyInput[];
}

/** JSON with object keys sorted, so equal values always serialise equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Replaces every string that is the id of one of the stage's dependencies by `@KEY`. */
function substituteRefs(value: unknown, refs: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') {
    const key = refs.get(value);
    return key === undefined ? value : `@${key}`;
  }
  if (Array.isArray(value)) return value.map((v) => substituteRefs(v, refs));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, substituteRefs(v, refs)]));
  }
  return value;
}

function datasetOf(graph: RuntimeGraph, name: string): DatasetSpec {
  const d = graph.datasets.find((x) => x.name === name);
  if (!d) throw new Error(`the graph names dataset '${name}' but does not declare it`);
  return d;
}

/** The parameters of a stage that its key hashes (ids and dependency lists removed, references kept as ids). */
export function keyParams(stage: Stage, graph: RuntimeGraph): Record<string, unknown> {
  const { id: _id, deps: _deps, ...rest } = stage;
  const p = structuredClone(rest) as Record<string, unknown>;
  switch (stage.kind) {
    case 'prepare': {
      const d = datasetOf(graph, stage.datasets[0]);
      return { kind: 'prepare', datasets: [...stage.datasets], splitFile: d.splitFile ?? null };
    }
    case 'preprocess':
      p.classes = Object.fromEntries(stage.datasets.map((n) => [n, datasetOf(graph, n).classes.map((c) => [c.name, c.labels])]));
      return p;
    case 'train':
    case 'finetune': {
      const sched = p.schedule as Record<string, unknown>;
      delete sched.checkpointEvery;
      delete (p.sampling as Record<string, unknown>).shares;
      p.splitFiles = Object.fromEntries(stage.datasets.map((n) => [n, datasetOf(graph, n).splitFile ?? null]));
      // A checkpoint start counts by its contents (the external digest), not by where it lies.
      if (p.checkpoint) p.checkpoint = 'file';
      return p;
    }
    case 'evaluate':
      p.splitFiles = Object.fromEntries(stage.datasets.map((n) => [n, datasetOf(graph, n).splitFile ?? null]));
      return p;
    case 'report':
      return p;
  }
}

/**
 * The key material of a stage, given each dependency's key and output digest (by dependency id),
 * the external inputs' digest and the backend.
 */
export function keyMaterial(
  stage: Stage,
  graph: RuntimeGraph,
  deps: ReadonlyMap<string, KeyInput>,
  options: { backend: string; external?: string | null; numerics?: string | null },
): KeyMaterial {
  const refs = new Map<string, string>();
  for (const d of stage.deps) {
    const k = deps.get(d);
    if (!k) throw new Error(`internal: the key of '${stage.id}' needs '${d}' first`);
    refs.set(d, k.key);
  }
  return {
    scheme: KEY_SCHEME,
    kind: stage.kind,
    code: STAGE_CODE[stage.kind],
    package: packageInfo().version,
    backend: TENSOR_STAGES.has(stage.kind) ? options.backend : null,
    numerics: TENSOR_STAGES.has(stage.kind) ? (options.numerics !== undefined ? options.numerics : backendNumerics(options.backend)) : null,
    params: substituteRefs(keyParams(stage, graph), refs),
    external: options.external ?? null,
    inputs: stage.deps.map((d) => deps.get(d)!).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

export function keyOf(material: KeyMaterial): string {
  return sha256Hex(canonicalJson(material));
}

/**
 * A key computable before anything ran (external inputs and output digests unknown): for naming run
 * folders and showing plans. Equal static keys mean equal parameters all the way up.
 */
export function staticKeys(graph: RuntimeGraph, backend: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of graph.stages) {
    const deps = new Map(s.deps.map((d) => [d, { key: out.get(d) ?? '', digest: '' }]));
    out.set(s.id, keyOf(keyMaterial(s, graph, deps, { backend })));
  }
  return out;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (s === undefined) return 'absent';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function diffValues(path: string, a: unknown, b: unknown, out: string[]): void {
  if (canonicalJson(a) === canonicalJson(b)) return;
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) diffValues(path ? `${path}.${k}` : k, a[k], b[k], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((v, i) => diffValues(`${path}[${i}]`, v, b[i], out));
    return;
  }
  out.push(`${path}: ${show(a)} -> ${show(b)}`);
}

/**
 * What changed between the key material of a stored run of a stage and today's, one line per
 * field: `params.schedule.epochs: 15 -> 30`, `backend: cpu -> webgpu`, `input 'preprocess:x' changed`.
 * `names` maps upstream keys to stage ids, for the message.
 */
export function explainChange(before: KeyMaterial, now: KeyMaterial, names: ReadonlyMap<string, string> = new Map()): string[] {
  const out: string[] = [];
  for (const field of ['scheme', 'kind', 'code', 'package', 'backend', 'numerics', 'external'] as const) {
    if (before[field] !== now[field]) {
      out.push(field === 'external' ? 'the input files changed' : `${field === 'code' ? 'stage code version' : field}: ${show(before[field])} -> ${show(now[field])}`);
    }
  }
  const beforeKeys = new Set(before.inputs.map((i) => i.key));
  const beforeDigests = new Set(before.inputs.map((i) => i.digest));
  const referenced = new Set<string>();
  for (const i of now.inputs) {
    if (beforeKeys.has(i.key)) continue;
    const name = names.get(i.key) ?? `${i.key.slice(0, 12)}`;
    referenced.add(i.key);
    out.push(beforeDigests.has(i.digest) ? `upstream '${name}' has a new key (same outputs)` : `upstream '${name}' changed`);
  }
  // Parameters: references to upstream stages are keys, already reported above.
  const strip = (v: unknown): unknown => (typeof v === 'string' && v.startsWith('@') ? '@' : Array.isArray(v) ? v.map(strip) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)])) : v);
  diffValues('', strip(before.params), strip(now.params), out);
  return out;
}
