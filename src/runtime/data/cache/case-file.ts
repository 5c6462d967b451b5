/**
 * Binary file of one preprocessed case (the cache's `.mtcase` entries): an 8-byte magic, a JSON
 * header (id, dataset, shape, spacing, class voxel counts, source), then the float32 image, the
 * uint8 label and each class's uint32 voxel indices, 4-byte aligned, little-endian.
 */
import type { Vec3 } from '../../../graph/types.js';
import type { CaseSource, PreprocessedCase } from '../types.js';

const MAGIC = 'MTCASE\x01\n';

interface CaseHeader {
  id: string;
  dataset: string;
  shape: Vec3;
  spacing: Vec3;
  classes: [string, number][];
  source?: CaseSource;
}

const align4 = (n: number): number => (n + 3) & ~3;

export function encodeCase(c: PreprocessedCase): Uint8Array {
  const head: CaseHeader = {
    id: c.id,
    dataset: c.dataset,
    shape: c.shape,
    spacing: c.spacing,
    classes: Object.entries(c.classVoxels).map(([k, v]) => [k, v.length]),
    ...(c.source ? { source: c.source } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(head));
  const n = c.image.length;
  const start = align4(12 + json.length);
  const labelAt = start + 4 * n;
  let at = align4(labelAt + n);
  const total = at + head.classes.reduce((s, [, k]) => s + 4 * k, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(new Uint8Array(c.image.buffer, c.image.byteOffset, c.image.byteLength), start);
  out.set(c.label, labelAt);
  for (const [name] of head.classes) {
    const v = c.classVoxels[name];
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
    at += v.byteLength;
  }
  return out;
}

/** Decodes a case file; null when the bytes are not a complete, consistent case file. */
export function decodeCase(bytes: Uint8Array): PreprocessedCase | null {
  if (bytes.length < 12) return null;
  for (let i = 0; i < 8; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) return null;
  let head: CaseHeader;
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as CaseHeader;
  } catch {
    return null;
  }
  const n = head.shape[0] * head.shape[1] * head.shape[2];
  const start = align4(12 + len);
  const labelAt = start + 4 * n;
  let at = align4(labelAt + n);
  const total = at + head.classes.reduce((s, [, k]) => s + 4 * k, 0);
  if (total !== bytes.length) return null;
  // The arrays go onto SharedArrayBuffers, so that training's loader workers read them without a copy.
  const copy = (from: number, size: number): SharedArrayBuffer => {
    const buf = new SharedArrayBuffer(size);
    new Uint8Array(buf).set(bytes.subarray(from, from + size));
    return buf;
  };
  const image = new Float32Array(copy(start, 4 * n));
  const label = new Uint8Array(copy(labelAt, n));
  const classVoxels: Record<string, Uint32Array> = {};
  for (const [name, k] of head.classes) {
    classVoxels[name] = new Uint32Array(copy(at, 4 * k));
    at += 4 * k;
  }
  return {
    id: head.id,
    dataset: head.dataset,
    image,
    label,
    shape: head.shape,
    spacing: head.spacing,
    classVoxels,
    ...(head.source ? { source: head.source } : {}),
  };
}
