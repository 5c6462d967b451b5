/**
 * SHA-256 of file contents, memoised on disk by (absolute path, size, mtime) so that a second run
 * hashes nothing that did not change. The memo lives in the cache folder (`hashes/`), one small JSON
 * file per input file, written atomically.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { MtDataError } from '../errors.js';

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

async function hashStream(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

interface Memo {
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/**
 * Content hash of `path`; `memoDir` (optional) remembers hashes of unchanged files. With `deferred`,
 * new memo writes are queued there instead of done (so nothing is written before inputs validate).
 */
export async function fileContentHash(path: string, memoDir?: string, deferred?: (() => Promise<void>)[]): Promise<string> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw MtDataError.about(path, 'file not found', 'Check the path and the dataset layout');
  }
  const memoPath = memoDir ? join(memoDir, `${sha256(abs).slice(0, 32)}.json`) : undefined;
  if (memoPath) {
    try {
      const m = JSON.parse(await readFile(memoPath, 'utf8')) as Memo;
      if (m.path === abs && m.size === st.size && m.mtimeMs === st.mtimeMs && /^[0-9a-f]{64}$/.test(m.sha256)) return m.sha256;
    } catch {
      // no memo yet (or unreadable): hash the file
    }
  }
  const digest = await hashStream(abs);
  if (memoPath) {
    const memo: Memo = { path: abs, size: st.size, mtimeMs: st.mtimeMs, sha256: digest };
    const write = (): Promise<void> => writeFileAtomic(memoPath, JSON.stringify(memo)).catch(() => undefined); // a memo is only an optimisation
    if (deferred) deferred.push(write);
    else await write();
  }
  return digest;
}
