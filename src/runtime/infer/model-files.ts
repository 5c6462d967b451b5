/** Where a model's files are: checkpoint folders, `final/`, `fold_k/` (file system only, no tfjs). */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

export async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

export function foldNumber(dir: string): number | null {
  const m = /^fold_?(\d+)$/.exec(basename(dir));
  return m ? Number(m[1]) : null;
}

/** The `fold_K` (or `foldK`) folders of `dir`, by fold number; empty when none or unreadable. */
export async function foldDirs(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^fold_?\d+$/.test(n)).sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  const out: string[] = [];
  for (const n of names) if (await isDir(join(dir, n))) out.push(join(dir, n));
  return out;
}

/**
 * Checkpoint folders under `dir`: `dir` itself when it holds model.json, else `dir/final`, else its
 * `fold_*` folders (each resolved the same way). Empty when none.
 */
export async function checkpointFolders(dir: string): Promise<string[]> {
  if (await isFile(join(dir, 'model.json'))) return [dir];
  if (await isFile(join(dir, 'final', 'model.json'))) return [join(dir, 'final')];
  const out: string[] = [];
  for (const f of await foldDirs(dir)) out.push(...(await checkpointFolders(f)));
  return out;
}
