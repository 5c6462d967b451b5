/**
 * Inter-process locks on a shared file system: a lock is a file created exclusively (`O_EXCL`),
 * holding who took it (process id, host, when). While held, its holder touches it every few seconds
 * (a heartbeat). A lock is stale, and is removed by whoever finds it, when its process no longer
 * exists (same host), or its heartbeat stopped for `staleMs` (any host: a killed job on another
 * node). Others wait for it, polling, and can be interrupted by an AbortSignal.
 *
 * Used for one computation per stage key in the stage store, and one synthesis per data folder.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** What the holder is doing (a stage id, a synthesis). */
  what: string;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** Called once when the lock is held by another live process, before waiting for it. */
  onWait?: (holder: LockHolder) => void;
  /** Called when a stale lock (of a killed process) is removed. */
  onStale?: (holder: LockHolder | null) => void;
  pollMs?: number;
  /** A heartbeat older than this marks the lock stale (default 2 minutes). */
  staleMs?: number;
  heartbeatMs?: number;
}

/** Whether process `pid` exists on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<{ holder: LockHolder | null; mtimeMs: number } | null> {
  try {
    const st = await stat(path);
    let holder: LockHolder | null = null;
    try {
      holder = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
    } catch {
      holder = null; // being written, or garbage
    }
    return { holder, mtimeMs: st.mtimeMs };
  } catch {
    return null; // released meanwhile
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      fail(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Takes the lock at `path`, waiting while another live process holds it; returns its release. */
export async function acquireLock(path: string, what: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const staleMs = options.staleMs ?? 120_000;
  const heartbeatMs = options.heartbeatMs ?? Math.max(1000, Math.floor(staleMs / 6));
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), what };
  await mkdir(dirname(path), { recursive: true });
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const h = await open(path, 'wx');
      try {
        await h.writeFile(`${JSON.stringify(me)}\n`);
      } finally {
        await h.close();
      }
      const beat = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, heartbeatMs);
      beat.unref();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        clearInterval(beat);
        const cur = await readHolder(path);
        if (cur?.holder && cur.holder.pid === me.pid && cur.holder.host === me.host && cur.holder.startedAt === me.startedAt) await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const cur = await readHolder(path);
    if (cur === null) continue; // released between our attempt and the read
    const { holder, mtimeMs } = cur;
    const age = Date.now() - mtimeMs;
    const dead = holder ? (holder.host === me.host && !processAlive(holder.pid)) || age > staleMs : age > Math.min(staleMs, 10_000);
    if (dead) {
      // Move it aside first: of several processes finding the same stale lock, one removes it.
      const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await rename(path, aside);
        const moved = await readHolder(aside);
        const same = moved?.holder?.pid === holder?.pid && moved?.holder?.startedAt === holder?.startedAt;
        // Another process may have removed the stale lock and taken a fresh one meanwhile: give it back.
        if (!same) await link(aside, path).catch(() => undefined);
        await rm(aside, { force: true });
        if (same) options.onStale?.(holder);
      } catch {
        // another process removed it first
      }
      continue;
    }
    if (!told && holder) {
      told = true;
      options.onWait?.(holder);
    }
    await sleep(options.pollMs ?? 500, options.signal);
  }
}
