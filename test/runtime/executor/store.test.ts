import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { KEY_SCHEME, type KeyMaterial } from '../../../src/runtime/executor/keys.js';
import { Store } from '../../../src/runtime/executor/store.js';
import { recoverDir, replaceDir, writeDirAtomic } from '../../../src/runtime/io/atomic.js';

const material: KeyMaterial = { scheme: KEY_SCHEME, kind: 'report', code: 'report-1', package: '0.1.0', backend: null, params: {}, external: null, inputs: [] };
const fields = { stage: 'report:x', kind: 'report' as const, material, inputStages: {}, summary: { n: 1 }, seconds: 1 };
const KEY = 'a'.repeat(64);

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mtc-store-'));
});

describe('the stage store', () => {
  it('files a finished stage under its key with a manifest of its outputs, written last', async () => {
    const store = new Store(root);
    expect(await store.lookup(KEY)).toBeNull();
    const work = await store.beginWork(KEY, false);
    await mkdir(join(work, 'sub'));
    await writeFile(join(work, 'sub', 'a.txt'), 'hello');
    await writeFile(join(work, 'b.bin'), new Uint8Array([1, 2, 3]));
    const entry = await store.commit(KEY, fields);
    expect(entry.dir).toBe(join(root, 'a'.repeat(24)));
    expect(existsSync(store.workDir(KEY))).toBe(false);
    expect(Object.keys(entry.manifest.outputs)).toEqual(['b.bin', 'sub/a.txt']);
    expect(entry.manifest.outputs['sub/a.txt']).toMatchObject({ sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', bytes: 5 });
    expect(entry.manifest.digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.lookup(KEY))?.manifest.summary).toEqual({ n: 1 });
    expect((await store.manifests()).map((m) => m.key)).toEqual([KEY]);
  });

  it('counts an entry with a missing or resized output, another key, or a broken manifest as absent', async () => {
    const store = new Store(root);
    await store.beginWork(KEY, false);
    await writeFile(join(store.workDir(KEY), 'x'), '123');
    await store.commit(KEY, fields);
    await writeFile(join(store.entryDir(KEY), 'x'), '12');
    expect(await store.lookup(KEY)).toBeNull();
    expect(await store.lookup(KEY, { verifySizes: false })).not.toBeNull();
    const other = `${'a'.repeat(24)}${'b'.repeat(40)}`;
    expect(await store.lookup(other)).toBeNull(); // same folder name, different key
    await writeFile(join(store.entryDir(KEY), 'manifest.json'), '{"format":');
    expect(await store.lookup(KEY, { verifySizes: false })).toBeNull();
  });

  it('replaces an entry of the same key (--force) in one step, and finds the previous run of a stage', async () => {
    const store = new Store(root);
    for (const text of ['one', 'two']) {
      await store.beginWork(KEY, false);
      await writeFile(join(store.workDir(KEY), 'x'), text);
      await store.commit(KEY, fields);
    }
    expect(await readFile(join(store.entryDir(KEY), 'x'), 'utf8')).toBe('two');
    expect((await readdir(root)).filter((n) => n.includes('.old-'))).toEqual([]);
    const k2 = 'c'.repeat(64);
    await store.beginWork(k2, false);
    await store.commit(k2, { ...fields, material: { ...material, package: '0.2.0' } });
    expect((await store.previousOf('report:x', k2))?.key).toBe(KEY);
    expect(await store.previousOf('report:y', k2)).toBeNull();
  });

  it('sweeps an entry set aside by a commit that was cut short', async () => {
    const store = new Store(root);
    await mkdir(join(root, `.${'a'.repeat(24)}.old-12-ab`));
    await mkdir(join(root, 'keep'));
    expect(await store.sweep()).toBe(1);
    expect(await readdir(root)).toEqual(['keep']);
  });

  it('keeps a resumable work folder when asked, and starts a clean one otherwise', async () => {
    const store = new Store(root);
    await store.beginWork(KEY, false);
    await writeFile(join(store.workDir(KEY), 'latest'), 'state');
    await store.beginWork(KEY, true);
    expect(existsSync(join(store.workDir(KEY), 'latest'))).toBe(true);
    await store.beginWork(KEY, false);
    expect(existsSync(join(store.workDir(KEY), 'latest'))).toBe(false);
  });
});

describe('atomic folders', () => {
  it('writeDirAtomic replaces a folder as a whole; a failing fill leaves the old one and no temporary', async () => {
    const dest = join(root, 'ckpt');
    await writeDirAtomic(dest, async (tmp) => writeFile(join(tmp, 'f'), '1'));
    await writeDirAtomic(dest, async (tmp) => writeFile(join(tmp, 'f'), '2'));
    expect(await readFile(join(dest, 'f'), 'utf8')).toBe('2');
    await expect(
      writeDirAtomic(dest, async (tmp) => {
        await writeFile(join(tmp, 'f'), '3');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(await readFile(join(dest, 'f'), 'utf8')).toBe('2');
    expect(await readdir(root)).toEqual(['ckpt']);
  });

  it('recoverDir repairs a replacement cut between its two renames (kill -9)', async () => {
    const dest = join(root, 'latest');
    // The old folder was set aside, the new complete one not yet renamed into place.
    await mkdir(join(root, '.latest.old-1-aa'));
    await writeFile(join(root, '.latest.old-1-aa', 'training.json'), 'old');
    await mkdir(join(root, '.latest.tmp-1-bb'));
    await writeFile(join(root, '.latest.tmp-1-bb', 'training.json'), 'new');
    await mkdir(join(root, '.latest.tmp-1-cc')); // an incomplete one, cut while being written
    expect(await recoverDir(dest, 'training.json')).toBe(true);
    expect(await readFile(join(dest, 'training.json'), 'utf8')).toBe('new');
    expect(await readdir(root)).toEqual(['latest']);
    // Only the set-aside folder is left: it comes back.
    const d2 = join(root, 'best');
    await mkdir(join(root, '.best.old-2-aa'));
    await writeFile(join(root, '.best.old-2-aa', 'training.json'), 'old');
    expect(await recoverDir(d2, 'training.json')).toBe(true);
    expect(await readFile(join(d2, 'training.json'), 'utf8')).toBe('old');
    expect(await recoverDir(join(root, 'none'), 'training.json')).toBe(false);
  });

  it('replaceDir moves a folder onto an existing one', async () => {
    await mkdir(join(root, 'a'));
    await writeFile(join(root, 'a', 'x'), 'a');
    await mkdir(join(root, 'b'));
    await writeFile(join(root, 'b', 'y'), 'b');
    await replaceDir(join(root, 'a'), join(root, 'b'));
    expect(await readdir(join(root, 'b'))).toEqual(['x']);
    expect((await readdir(root)).sort()).toEqual(['b']);
  });
});
