/**
 * Locks between processes (io/lock.ts): one holder at a time, others wait; a lock left by a killed
 * process is removed; a lock whose heartbeat stopped (another host) too. Removing the liveness
 * check makes the stale-lock tests hang (time out); removing the exclusive create lets two hold it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, type LockHolder } from '../../src/runtime/io/lock.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-trust-locks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('inter-process locks', () => {
  it('one holder at a time: the second waits (told who holds it) and gets it on release', async () => {
    const path = join(tmp, 'a.lock');
    const release = await acquireLock(path, 'first');
    let waitedFor: LockHolder | null = null;
    let got = false;
    const second = acquireLock(path, 'second', { pollMs: 20, onWait: (h) => (waitedFor = h) }).then((r) => {
      got = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(got).toBe(false);
    expect(waitedFor).toMatchObject({ pid: process.pid, what: 'first' });
    await release();
    const r2 = await second;
    expect(got).toBe(true);
    await r2();
    expect(existsSync(path)).toBe(false);
  });

  it('a lock left by a killed process (same host, its pid gone) is removed at once', async () => {
    const path = join(tmp, 'b.lock');
    const { hostname } = await import('node:os');
    const pid = deadPid();
    writeFileSync(path, JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString(), what: 'killed' }));
    const stale: (LockHolder | null)[] = [];
    const release = await acquireLock(path, 'next', { pollMs: 20, onStale: (h) => stale.push(h) });
    expect(stale.map((h) => h?.pid)).toEqual([pid]);
    await release();
  }, 5000);

  it('a lock of another host whose heartbeat stopped is stale; a live heartbeat is not', async () => {
    const path = join(tmp, 'c.lock');
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'another-node', startedAt: '2026-01-01T00:00:00Z', what: 'remote' }));
    const old = Date.now() / 1000 - 600;
    utimesSync(path, old, old);
    const release = await acquireLock(path, 'next', { pollMs: 20, staleMs: 60_000 });
    await release();
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'another-node', startedAt: '2026-01-01T00:00:00Z', what: 'remote' }));
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new Error('gave up')), 200);
    await expect(acquireLock(path, 'next', { pollMs: 20, staleMs: 60_000, signal: ctrl.signal })).rejects.toThrow('gave up');
    rmSync(path);
  });

  it('the holder keeps its lock fresh (heartbeat) while it works', async () => {
    const path = join(tmp, 'd.lock');
    const release = await acquireLock(path, 'long', { staleMs: 3000, heartbeatMs: 50 });
    const old = Date.now() / 1000 - 600;
    utimesSync(path, old, old);
    await new Promise((r) => setTimeout(r, 200));
    const { statSync } = await import('node:fs');
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(2000);
    await release();
  });
});
