/**
 * The on-disk preprocessing cache. Entries are immutable files named by a key, the SHA-256 of
 * everything that determines their content (input file contents, parameters, CACHE_CODE_VERSION):
 *
 *   <cache>/hashes/<h>.json                  content-hash memo of one input file
 *   <cache>/fingerprints/<key>.json          dataset fingerprint (+ <key>.samples.f32, foreground samples)
 *   <cache>/cases/<key>.mtcase               one preprocessed case
 *
 * Every file is written to a unique temporary sibling and renamed into place, so a crash leaves no
 * partial entry and concurrent writers never write the same file; the last rename wins with
 * identical content. Within a process, concurrent requests for one key share one computation.
 * An entry that cannot be read back (e.g. damaged disk) counts as a miss and is rebuilt.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { sha256 } from './content-hash.js';

/** Bump whenever preprocessing results change for the same inputs and parameters. */
export const CACHE_CODE_VERSION = 'mtc-preprocess-3';

/** The default cache folder for a data root. */
export function defaultCacheDir(dataRoot: string): string {
  return join(dataRoot, '.mtc-cache');
}

export function cacheKey(parts: unknown): string {
  return sha256(JSON.stringify([CACHE_CODE_VERSION, parts]));
}

export type EntryKind = 'fingerprints' | 'cases' | 'hashes';

export class PreprocessCache {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {}

  path(kind: EntryKind, name: string): string {
    return join(this.dir, kind, name);
  }

  async read(kind: EntryKind, name: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(kind, name)));
    } catch {
      return null;
    }
  }

  async write(kind: EntryKind, name: string, data: Uint8Array | string): Promise<void> {
    await writeFileAtomic(this.path(kind, name), data);
  }

  /** Runs `make` once per key at a time in this process (others await the same promise). */
  async once<T>(key: string, make: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const p = make().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Removes temporary files left by crashed writers (older than `olderThanMs`). */
  async sweep(olderThanMs = 60 * 60 * 1000): Promise<number> {
    let removed = 0;
    for (const kind of ['fingerprints', 'cases', 'hashes'] as const) {
      const dir = join(this.dir, kind);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        if (!n.startsWith('.') || !n.includes('.tmp-')) continue;
        const p = join(dir, n);
        try {
          if (Date.now() - (await stat(p)).mtimeMs > olderThanMs) {
            await rm(p, { force: true });
            removed++;
          }
        } catch {
          // raced with another sweeper
        }
      }
    }
    return removed;
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }
}
