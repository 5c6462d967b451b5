import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A sibling path for a temporary file or folder: same directory, so the final rename is atomic. */
export function tempSibling(path: string): string {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return join(dirname(path), `.${basename(path)}.tmp-${tag}`);
}

/** Writes `data` to `path` through a temporary sibling and a rename: readers never see half a file. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
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
