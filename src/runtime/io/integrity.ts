/**
 * Content records of written files, and their cheap verification on use (as DVC does): a file's
 * record holds its SHA-256, its size and its modification time when it was written. Checking a
 * file compares the size first (a truncation or an append), then the modification time: when it is
 * unchanged the content is trusted, otherwise the file is hashed again and compared. A missing file
 * is damage too. Stores, caches and checkpoints keep such records in their manifests.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface FileRecord {
  sha256: string;
  bytes: number;
  /** Modification time when recorded (absent in older manifests: the file is then always hashed). */
  mtimeMs?: number;
}

/** SHA-256 of bytes in memory. */
export function bytesSha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The record of a file on disk (hashing it); `sha256` when the caller already knows it (it wrote the bytes). */
export async function recordFile(path: string, sha256?: string): Promise<FileRecord> {
  const st = await stat(path);
  return { sha256: sha256 ?? (await fileSha256(path)), bytes: st.size, mtimeMs: st.mtimeMs };
}

/**
 * What is wrong with `path` against its record, or null when it matches: missing, another size, or
 * (only when its modification time changed, or `full`) another content.
 */
export async function fileDamage(path: string, rec: FileRecord, options: { full?: boolean; bytes?: Uint8Array } = {}): Promise<string | null> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return `${path} is missing`;
  }
  if (!st.isFile()) return `${path} is not a file`;
  if (st.size !== rec.bytes) return `${path} is ${st.size} bytes, its manifest says ${rec.bytes}${st.size < rec.bytes ? ' (truncated)' : ''}`;
  if (!options.full && rec.mtimeMs !== undefined && st.mtimeMs === rec.mtimeMs) return null;
  const sha = options.bytes ? bytesSha256(options.bytes) : await fileSha256(path);
  return sha === rec.sha256 ? null : `${path} does not hold what was written (SHA-256 ${sha.slice(0, 12)}, its manifest says ${rec.sha256.slice(0, 12)})`;
}
