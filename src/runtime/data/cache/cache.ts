/**
 * The on-disk preprocessing cache. Entries are immutable files named by a key, the SHA-256 of
 * everything that determines their content (input file contents, parameters, CACHE_CODE_VERSION):
 *
 *   <cache>/hashes/<h>.json                  content-hash memo of one input file
 *   <cache>/fingerprints/<key>.json          dataset fingerprint (+ <key>.samples.f32, foreground samples)
 *   <cache>/cases/<key>.mtcase               one preprocessed case
 *
 *   <cache>/KIND/<name>.manifest.json        the content record of a fingerprint or case file:
 *                                            its SHA-256, size and modification time (io/integrity.ts)
 *
 * Every file is written to a unique temporary sibling and renamed into place, so a crash leaves no
 * partial entry and concurrent writers never write the same file; the last rename wins with
 * identical content. Within a process, concurrent requests for one key share one computation.
 * A fingerprint or case file is used only when it matches its record (size, then modification
 * time, then a rehash when that changed): one that is damaged (truncated, overwritten, missing)
 * or has no record (its writer died before writing it) counts as a miss and is rebuilt, and
 * `onDamage` is told which file and what is wrong.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { bytesSha256, fileDamage, recordFile, type FileRecord } from '../../io/integrity.js';
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

const RECORD_SUFFIX = '.manifest.json';

export class PreprocessCache {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    readonly dir: string,
    private readonly onDamage?: (problem: string) => void,
  ) {}

  path(kind: EntryKind, name: string): string {
    return join(this.dir, kind, name);
  }

  /** The content record of an entry (hash memos have none: they check themselves). */
  recordPath(kind: EntryKind, name: string): string {
    return `${this.path(kind, name)}${RECORD_SUFFIX}`;
  }

  /** An entry's bytes, or null when it is absent or damaged (see the module doc). */
  async read(kind: EntryKind, name: string): Promise<Uint8Array | null> {
    const path = this.path(kind, name);
    if (kind === 'hashes') {
      try {
        return new Uint8Array(await readFile(path));
      } catch {
        return null;
      }
    }
    let rec: FileRecord;
    try {
      rec = JSON.parse(await readFile(this.recordPath(kind, name), 'utf8')) as FileRecord;
    } catch {
      return null; // never completed (or written by an mtc without records): a miss
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch {
      this.onDamage?.(`${path} is missing`);
      return null;
    }
    const damage = await fileDamage(path, rec, { bytes });
    if (damage) {
      this.onDamage?.(damage);
      return null;
    }
    return bytes;
  }

  /** Writes an entry, then its content record (the record is what makes it usable). */
  async write(kind: EntryKind, name: string, data: Uint8Array | string): Promise<void> {
    const path = this.path(kind, name);
    await writeFileAtomic(path, data);
    if (kind !== 'hashes') await writeFileAtomic(this.recordPath(kind, name), JSON.stringify(await recordFile(path, bytesSha256(data))));
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
