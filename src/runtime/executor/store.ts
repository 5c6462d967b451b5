/**
 * The stage store: every stage's outputs, filed by the stage's key, shared by all runs (it is the
 * cache). Layout, under the store folder (`<runs>/.store` by default):
 *
 *   <key>/manifest.json     a finished stage: what it is, its key material, its outputs' SHA-256s
 *   <key>/...               its outputs (checkpoints/, cases/, evaluation.json, ...)
 *   .work/<key>/            a stage being computed (or interrupted: a training's checkpoints/latest)
 *   .locks/<key>.lock       held by the process computing the stage (io/lock.ts)
 *
 * `<key>` is the first 24 hex digits of the stage key (the manifest holds the full key). A finished
 * entry appears at once: its work folder, with manifest.json written last, is renamed into place.
 * An entry whose manifest is missing, unreadable or of another key, or whose outputs are damaged
 * (missing, of another size, or of another content: io/integrity.ts checks the size, then the
 * modification time, and hashes again only when that changed) counts as absent: the caller is told
 * what is wrong (`onDamage`) and recomputes it. Nothing is ever modified in place.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { StageKind } from '../../graph/types.js';
import { replaceDir, writeFileAtomic } from '../io/atomic.js';
import { fileDamage, fileSha256, recordFile, type FileRecord } from '../io/integrity.js';
import { acquireLock, type LockOptions } from '../io/lock.js';
import { canonicalJson, sha256Hex, type KeyMaterial } from './keys.js';

export const MANIFEST = 'manifest.json';
export const MANIFEST_FORMAT = 'mtc-stage-manifest';

/** An output's SHA-256, size and modification time when it was filed (io/integrity.ts). */
export type OutputRecord = FileRecord;

export interface StageManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  /** The stage id when it was computed (a label; the key is what identifies the work). */
  stage: string;
  kind: StageKind;
  key: string;
  material: KeyMaterial;
  /** Stage ids of the upstream keys, for messages. */
  inputStages: Record<string, string>;
  /** Every output file, by path relative to the entry. */
  outputs: Record<string, OutputRecord>;
  /** Content digest downstream keys include (defaults to the digest of `outputs`). */
  digest: string;
  /** Facts shown by `mtc status` (metrics, weights_sha256, epochs, ...). */
  summary: Record<string, unknown>;
  /** Trainings: their key without the schedule's length (see StageContext.lineage). */
  lineage?: string;
  seconds: number;
  finishedAt: string;
}

/** A finished stage in the store. */
export interface StoreEntry {
  dir: string;
  manifest: StageManifest;
}

export { fileSha256 };

async function listFiles(dir: string, skip: (rel: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p).split(sep).join('/');
      if (skip(rel) || e.name.startsWith('.')) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(rel);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The default digest of a stage's outputs: SHA-256 over their paths and hashes. */
export function outputsDigest(outputs: Record<string, OutputRecord>): string {
  return sha256Hex(canonicalJson(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.sha256]))));
}

export class Store {
  constructor(readonly root: string) {}

  static dirName(key: string): string {
    return key.slice(0, 24);
  }

  entryDir(key: string): string {
    return join(this.root, Store.dirName(key));
  }

  workDir(key: string): string {
    return join(this.root, '.work', Store.dirName(key));
  }

  /** The finished entry of `key`, or null (see the module doc for what counts as absent). */
  async lookup(key: string, options: { verify?: 'quick' | 'full' | 'none'; verifySizes?: boolean; onDamage?: (problem: string) => void } = {}): Promise<StoreEntry | null> {
    const dir = this.entryDir(key);
    let text: string;
    try {
      text = await readFile(join(dir, MANIFEST), 'utf8');
    } catch {
      return null; // not in the store
    }
    let manifest: StageManifest;
    try {
      manifest = JSON.parse(text) as StageManifest;
    } catch {
      options.onDamage?.(`${join(dir, MANIFEST)} is not valid JSON`);
      return null;
    }
    if (manifest.format !== MANIFEST_FORMAT || manifest.key !== key || typeof manifest.outputs !== 'object' || manifest.outputs === null) {
      options.onDamage?.(`${join(dir, MANIFEST)} is not the manifest of this stage`);
      return null;
    }
    const verify = options.verify ?? (options.verifySizes === false ? 'none' : 'quick');
    if (verify !== 'none') {
      for (const [rel, rec] of Object.entries(manifest.outputs)) {
        const damage = await fileDamage(join(dir, rel), rec, { full: verify === 'full' });
        if (damage) {
          options.onDamage?.(damage);
          return null;
        }
      }
    }
    return { dir, manifest };
  }

  /** The lock file of `key` (`.locks/<key>.lock`). */
  lockPath(key: string): string {
    return join(this.root, '.locks', `${Store.dirName(key)}.lock`);
  }

  /**
   * Takes the lock of `key` (one process computes a stage at a time; others wait, then find its
   * entry; locks of killed processes are removed: io/lock.ts). Returns its release.
   */
  lock(key: string, what: string, options: LockOptions = {}): Promise<() => Promise<void>> {
    return acquireLock(this.lockPath(key), what, options);
  }

  /** A clean work folder for `key` (an earlier one is kept when `keep` is true: a training resumes from it). */
  async beginWork(key: string, keep: boolean): Promise<string> {
    const dir = this.workDir(key);
    if (!keep) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Whether an unfinished work folder exists for `key`. */
  async hasWork(key: string): Promise<boolean> {
    try {
      return (await stat(this.workDir(key))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Finishes a stage: hashes every file of its work folder (except `exclude`d paths, which are
   * deleted), writes the manifest last and moves the folder into place, replacing an older entry
   * of the same key. Returns the entry.
   */
  async commit(
    key: string,
    fields: Omit<StageManifest, 'format' | 'version' | 'key' | 'outputs' | 'digest' | 'finishedAt'> & { digest?: string },
    exclude: (rel: string) => boolean = () => false,
  ): Promise<StoreEntry> {
    const work = this.workDir(key);
    for (const e of await readdir(work)) if (exclude(e)) await rm(join(work, e), { recursive: true, force: true });
    const outputs: Record<string, OutputRecord> = {};
    for (const rel of await listFiles(work, (r) => r === MANIFEST || exclude(r))) {
      outputs[rel] = await recordFile(join(work, rel));
    }
    const manifest: StageManifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      ...fields,
      key,
      outputs,
      digest: fields.digest ?? outputsDigest(outputs),
      finishedAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const dest = this.entryDir(key);
    await replaceDir(work, dest);
    return { dir: dest, manifest };
  }

  /**
   * Removes what a crash inside a commit can leave: an older entry set aside (`.KEY.old-*`) whose
   * replacement may or may not have landed. Either way the entry is complete or absent.
   */
  async sweep(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return 0;
    }
    const stale = names.filter((n) => /^\.[0-9a-f]{24}\.old-/.test(n));
    for (const n of stale) await rm(join(this.root, n), { recursive: true, force: true });
    return stale.length;
  }

  /** Every finished entry's manifest (unreadable ones skipped). */
  async manifests(): Promise<StageManifest[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const out: StageManifest[] = [];
    for (const n of names) {
      if (n.startsWith('.')) continue;
      try {
        const m = JSON.parse(await readFile(join(this.root, n, MANIFEST), 'utf8')) as StageManifest;
        if (m.format === MANIFEST_FORMAT && Store.dirName(m.key) === n) out.push(m);
      } catch {
        // not an entry (or half-deleted by hand)
      }
    }
    return out;
  }

  /** The most recently finished entry of stage id `stage` other than `key` (for --explain-cache), or null. */
  async previousOf(stage: string, key: string): Promise<StageManifest | null> {
    const all = (await this.manifests()).filter((m) => m.stage === stage && m.key !== key);
    all.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : -1));
    return all[0] ?? null;
  }
}
