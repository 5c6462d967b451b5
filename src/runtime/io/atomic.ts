import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './lock.js';

/**
 * Fault injection for tests (off by default): a function that, for a destination path, returns
 * null (write normally) or how many bytes to write before the write fails as a full disk would
 * (ENOSPC). Set it with `setWriteFault`, or for a whole process (a child `mtc` included) with the
 * environment variable `MTC_FAULT_WRITE=SUBSTRING[@BYTES]`: every write whose destination contains
 * SUBSTRING fails after BYTES bytes (default: half of the data).
 */
export type WriteFault = (path: string, size: number) => number | null;

function faultFromEnv(spec: string | undefined): WriteFault | null {
  if (!spec) return null;
  const at = spec.lastIndexOf('@');
  const needle = at > 0 ? spec.slice(0, at) : spec;
  const bytes = at > 0 ? Number(spec.slice(at + 1)) : NaN;
  return (path, size) => (path.includes(needle) ? (Number.isFinite(bytes) ? Math.min(bytes, size) : Math.floor(size / 2)) : null);
}

let writeFault: WriteFault | null = faultFromEnv(process.env.MTC_FAULT_WRITE);

/** Installs a write fault (null: none); returns the previous one. For tests. */
export function setWriteFault(fault: WriteFault | null): WriteFault | null {
  const previous = writeFault;
  writeFault = fault;
  return previous;
}

/** An error that names the file a write was meant for (not its temporary sibling). */
function writeError(path: string, e: unknown): Error {
  const cause = e as NodeJS.ErrnoException;
  const reason = cause.code === 'ENOSPC' ? 'no space left on the device' : (cause.message ?? String(e));
  const err = new Error(`cannot write ${path}: ${reason}; what was there before is unchanged`, { cause: e }) as NodeJS.ErrnoException;
  if (cause.code) err.code = cause.code;
  return err;
}

/** Writes the temporary file, failing part-way when a fault is injected. */
async function writeTemp(tmp: string, dest: string, data: Uint8Array | string): Promise<void> {
  const fail = writeFault?.(dest, typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength) ?? null;
  if (fail === null) {
    await writeFile(tmp, data);
    return;
  }
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const h = await open(tmp, 'w');
  try {
    await h.write(bytes.subarray(0, fail));
  } finally {
    await h.close();
  }
  const e = new Error(`ENOSPC: no space left on device, write (injected fault after ${fail} bytes)`) as NodeJS.ErrnoException;
  e.code = 'ENOSPC';
  throw e;
}

/** A sibling path for a temporary file or folder: same directory, so the final rename is atomic. */
export function tempSibling(path: string): string {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return join(dirname(path), `.${basename(path)}.tmp-${tag}`);
}

const TEMP_FILE = /^\.(.+)\.tmp-(\d+)-[0-9a-f]{8}$/;

/**
 * Removes the temporary files (`.NAME.tmp-PID-HEX`, see tempSibling) that writers killed on this
 * host left in `dir` (not its subfolders): a `kill -9` between write and rename leaves one behind.
 * A file whose process still exists is kept (it is being written). Only for folders whose files
 * are written by processes of this host (a run folder's own records); returns the names removed.
 */
export async function removeDeadTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_FILE.exec(n);
    if (!m || Number(m[2]) === process.pid || processAlive(Number(m[2]))) continue;
    await rm(join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

/**
 * Writes `data` to `path` through a temporary sibling and a rename: readers never see half a file,
 * and a failed write (a full disk) leaves the previous file as it was; the error names `path`.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    await writeTemp(tmp, path, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    if ((e as Error).message?.startsWith(`cannot write ${path}`)) throw e;
    throw writeError(path, e);
  }
}

/**
 * Moves the complete folder `src` to `dest`, replacing whatever is there, so that `dest` is always
 * either the old folder or the new one, never a mix: the old folder is first renamed aside
 * (`.NAME.old-*`), the new one renamed into place, then the old one deleted. A crash between the two
 * renames leaves no `dest` but both siblings: `recoverDir` puts the right one back.
 */
export async function replaceDir(src: string, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const aside = join(dirname(dest), `.${basename(dest)}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
  let moved = false;
  try {
    await rename(dest, aside);
    moved = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await rename(src, dest);
  if (moved) await rm(aside, { recursive: true, force: true });
}

/**
 * Writes a folder atomically: `fill` writes into a temporary sibling, which then replaces `dest`
 * (see replaceDir). `complete` names the file `fill` writes last: `recoverDir` trusts a leftover
 * temporary folder only when it holds that file.
 */
export async function writeDirAtomic(dest: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempSibling(dest);
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await replaceDir(tmp, dest);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    // Name the file the folder was to hold, not its temporary sibling.
    if (e instanceof Error && e.message.includes(tmp)) {
      const err = new Error(e.message.split(tmp).join(dest), { cause: e }) as NodeJS.ErrnoException;
      err.code = (e as NodeJS.ErrnoException).code;
      throw err;
    }
    throw e;
  }
}

/**
 * After a crash inside replaceDir/writeDirAtomic: when `dest` is missing, the newest complete
 * temporary sibling (one holding `complete`) or else the folder set aside is renamed back to `dest`.
 * Leftover siblings are removed. Returns whether `dest` exists afterwards.
 */
export async function recoverDir(dest: string, complete: string): Promise<boolean> {
  const parent = dirname(dest);
  const name = basename(dest);
  let siblings: string[];
  try {
    siblings = (await readdir(parent)).filter((n) => n.startsWith(`.${name}.tmp-`) || n.startsWith(`.${name}.old-`));
  } catch {
    return false;
  }
  let present = await pathExists(dest);
  if (!present) {
    const ranked = [...siblings.filter((n) => n.includes('.tmp-')), ...siblings.filter((n) => n.includes('.old-'))];
    for (const n of ranked) {
      if (await pathExists(join(parent, n, complete))) {
        await rename(join(parent, n), dest);
        present = true;
        break;
      }
    }
  }
  for (const n of siblings) await rm(join(parent, n), { recursive: true, force: true });
  return present;
}

/** Whether something exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
