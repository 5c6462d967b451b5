/**
 * Nothing corrupt is used: every cached artefact (stage outputs in the store, preprocessing cache
 * entries, training checkpoints) carries its content record, is checked on use (size, then mtime,
 * then a rehash), and a damaged one is reported and rebuilt. And a write that fails part-way (disk
 * full, through the fault-injection hook of io/atomic.ts) leaves the previous file valid and names
 * the file. Each test fails when its protection is removed.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../src/graph/types.js';
import { initBackend } from '../../src/runtime/backend.js';
import { PreprocessCache } from '../../src/runtime/data/cache/cache.js';
import { preprocessCollectionDetailed, type PreprocessOptions } from '../../src/runtime/data/preprocess/collection.js';
import { Store } from '../../src/runtime/executor/store.js';
import { setWriteFault, writeFileAtomic } from '../../src/runtime/io/atomic.js';
import { UNet } from '../../src/runtime/model/unet.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../../src/runtime/train/checkpoints.js';
import { heads, tinyArch } from '../runtime/model/helpers.js';
import { CLASSES, writeDataset } from '../runtime/data/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-trust-integrity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => void setWriteFault(null));

const KEY = `${'7'.repeat(24)}${'e'.repeat(40)}`;
const FIELDS = { stage: 'train:x', kind: 'train' as const, material: { kind: 'train' } as never, inputStages: {}, summary: {}, seconds: 0 };

async function storeWith(files: Record<string, string>): Promise<Store> {
  const store = new Store(join(tmp, `store-${Math.random().toString(36).slice(2)}`));
  const work = await store.beginWork(KEY, false);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(work, rel, '..'), { recursive: true });
    await writeFile(join(work, rel), text);
  }
  await store.commit(KEY, FIELDS);
  return store;
}

describe('stage outputs in the store', () => {
  it('the manifest records every output with its SHA-256, size and mtime', async () => {
    const store = await storeWith({ 'checkpoints/final/weights.bin': 'abcdefgh' });
    const entry = (await store.lookup(KEY))!;
    expect(entry.manifest.outputs['checkpoints/final/weights.bin']).toEqual({
      sha256: '9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab',
      bytes: 8,
      mtimeMs: statSync(join(entry.dir, 'checkpoints/final/weights.bin')).mtimeMs,
    });
  });

  it('a truncated output is damage: lookup says so and the entry counts as absent', async () => {
    const store = await storeWith({ 'w.bin': 'abcdefgh' });
    truncateSync(join(store.entryDir(KEY), 'w.bin'), 3);
    const said: string[] = [];
    expect(await store.lookup(KEY, { onDamage: (p) => said.push(p) })).toBeNull();
    expect(said).toEqual([`${join(store.entryDir(KEY), 'w.bin')} is 3 bytes, its manifest says 8 (truncated)`]);
  });

  it('a missing output is damage', async () => {
    const store = await storeWith({ 'a.json': '{}', 'w.bin': 'abcdefgh' });
    rmSync(join(store.entryDir(KEY), 'w.bin'));
    const said: string[] = [];
    expect(await store.lookup(KEY, { onDamage: (p) => said.push(p) })).toBeNull();
    expect(said[0]).toContain('w.bin is missing');
  });

  it('an overwritten output of the same size (its mtime changed) is found by rehashing', async () => {
    const store = await storeWith({ 'w.bin': 'abcdefgh' });
    const p = join(store.entryDir(KEY), 'w.bin');
    writeFileSync(p, 'abcdefgX');
    const t = statSync(p).mtimeMs / 1000 + 5;
    utimesSync(p, t, t);
    const said: string[] = [];
    expect(await store.lookup(KEY, { onDamage: (x) => said.push(x) })).toBeNull();
    expect(said[0]).toContain('does not hold what was written');
  });

  it('verification is cheap: an unchanged size and mtime are trusted without reading the file; full verification rehashes', async () => {
    const store = new Store(join(tmp, 'store-cheap'));
    const work = await store.beginWork(KEY, false);
    writeFileSync(join(work, 'w.bin'), 'abcdefgh');
    utimesSync(join(work, 'w.bin'), 1_700_000_000, 1_700_000_000); // a whole second: restorable exactly
    await store.commit(KEY, FIELDS);
    const p = join(store.entryDir(KEY), 'w.bin');
    writeFileSync(p, 'abcdefgX'); // same size; mtime put back: only a full rehash can tell
    utimesSync(p, 1_700_000_000, 1_700_000_000);
    expect(await store.lookup(KEY)).not.toBeNull();
    expect(await store.lookup(KEY, { verify: 'full' })).toBeNull();
  });
});

describe('the preprocessing cache', () => {
  const data = join(tmp, 'Dataset001_A');
  beforeAll(async () => {
    await writeDataset(data, 2);
  });
  const options = (cacheDir: string, said: string[]): PreprocessOptions => ({
    spacing: [2, 1.5, 1.5] as Vec3,
    normalization: { kind: 'ct', scope: 'dataset' },
    split: { holdoutFraction: 0.5, seed: 3 },
    foregroundSamples: 1000,
    cacheDir,
    onCacheDamage: (p) => said.push(p),
  });

  it('every case entry has a content record; a damaged case is reported and rebuilt, never used', async () => {
    const cache = join(tmp, 'cache1');
    const said: string[] = [];
    const first = await preprocessCollectionDetailed([{ name: 'A', dir: data, classes: CLASSES }], options(cache, said));
    const names = await readdir(join(cache, 'cases'));
    const cases = names.filter((n) => n.endsWith('.mtcase'));
    expect(cases).toHaveLength(2);
    for (const c of cases) expect(names).toContain(`${c}.manifest.json`);
    const victim = join(cache, 'cases', cases[0]);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 1] ^= 0xff; // one flipped bit in the last class's voxel list: the file still decodes
    writeFileSync(victim, bytes);
    const t = statSync(victim).mtimeMs / 1000 + 5;
    utimesSync(victim, t, t);
    const again = await preprocessCollectionDetailed([{ name: 'A', dir: data, classes: CLASSES }], options(cache, said));
    expect(again.cacheHits).toBe(1);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(victim);
    expect(said[0]).toContain('does not hold what was written');
    const a = first.datasets[0].cases.map((c) => [c.id, Array.from(Object.values(c.classVoxels).at(-1)!)]);
    const b = again.datasets[0].cases.map((c) => [c.id, Array.from(Object.values(c.classVoxels).at(-1)!)]);
    expect(b).toEqual(a);
    // rebuilt: the next run uses it again
    const third = await preprocessCollectionDetailed([{ name: 'A', dir: data, classes: CLASSES }], options(cache, said));
    expect(third.cacheHits).toBe(2);
  });

  it('a truncated entry and a missing one count as misses (reported), an entry without its record too', async () => {
    const c = new PreprocessCache(join(tmp, 'cache2'), (p) => said.push(p));
    const said: string[] = [];
    await c.write('cases', 'k.mtcase', new Uint8Array([1, 2, 3, 4]));
    expect(await c.read('cases', 'k.mtcase')).toEqual(new Uint8Array([1, 2, 3, 4]));
    truncateSync(c.path('cases', 'k.mtcase'), 2);
    expect(await c.read('cases', 'k.mtcase')).toBeNull();
    rmSync(c.path('cases', 'k.mtcase'));
    expect(await c.read('cases', 'k.mtcase')).toBeNull();
    expect(said).toEqual([`${c.path('cases', 'k.mtcase')} is 2 bytes, its manifest says 4 (truncated)`, `${c.path('cases', 'k.mtcase')} is missing`]);
    await writeFile(c.path('cases', 'j.mtcase'), 'no record');
    expect(await c.read('cases', 'j.mtcase')).toBeNull();
  });
});

describe('training checkpoints', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('training.json records each file; a damaged weights.bin makes the checkpoint unusable, and says why', async () => {
    const model = UNet.create(tinyArch(), heads(2), 1);
    const dir = join(tmp, 'ck1', 'latest');
    await saveTrainingCheckpoint(dir, model, optimizer(), stateAt(2));
    const good = await loadTrainingCheckpoint(dir);
    expect(good?.state.epoch).toBe(2);
    expect(Object.keys(good!.state.files!)).toEqual(['model.json', 'weights.bin', 'optimizer.bin']);
    const w = join(dir, 'weights.bin');
    const bytes = readFileSync(w);
    bytes[10] ^= 1; // same size (checkpoints are hashed in full on load)
    writeFileSync(w, bytes);
    const said: string[] = [];
    expect(await loadTrainingCheckpoint(dir, { onDamage: (p) => said.push(p) })).toBeNull();
    expect(said[0]).toContain(`${w} does not hold what was written`);
  });
});

describe('a write that fails part-way (disk full)', () => {
  it('writeFileAtomic: the previous file stays as it was, no temporary file is left, the error names the file', async () => {
    const dir = join(tmp, 'fault1');
    const p = join(dir, 'entry.bin');
    await writeFileAtomic(p, 'previous content');
    setWriteFault((path, size) => (path === p ? Math.floor(size / 3) : null));
    const err = await writeFileAtomic(p, 'the new content, longer than before').catch((e: NodeJS.ErrnoException) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`cannot write ${p}: no space left on the device; what was there before is unchanged`);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(readFileSync(p, 'utf8')).toBe('previous content');
    expect(await readdir(dir)).toEqual(['entry.bin']);
  });

  it('a checkpoint write that fails leaves the previous checkpoint loadable, and names the file', async () => {
    await initBackend('cpu');
    const model = UNet.create(tinyArch(), heads(2), 1);
    const dir = join(tmp, 'fault2', 'latest');
    await saveTrainingCheckpoint(dir, model, optimizer(), stateAt(1));
    setWriteFault((path) => (path.endsWith('weights.bin') ? 100 : null));
    const err = await saveTrainingCheckpoint(dir, model, optimizer(), stateAt(2)).catch((e: Error) => e);
    expect((err as Error).message).toBe(`cannot write ${join(dir, 'weights.bin')}: no space left on the device; what was there before is unchanged`);
    setWriteFault(null);
    const back = await loadTrainingCheckpoint(dir);
    expect(back?.state.epoch).toBe(1);
    expect((await readdir(join(tmp, 'fault2'))).sort()).toEqual(['latest']);
  });

  it('a cache entry whose write fails is not used afterwards, and the error names it', async () => {
    const c = new PreprocessCache(join(tmp, 'fault3'));
    await c.write('cases', 'k.mtcase', new Uint8Array(64).fill(7));
    setWriteFault((path) => (path.endsWith('k.mtcase') ? 10 : null));
    const err = await c.write('cases', 'k.mtcase', new Uint8Array(64).fill(9)).catch((e: Error) => e);
    expect((err as Error).message).toContain(`cannot write ${c.path('cases', 'k.mtcase')}`);
    setWriteFault(null);
    expect(await c.read('cases', 'k.mtcase')).toEqual(new Uint8Array(64).fill(7));
  });

  it('the environment variable MTC_FAULT_WRITE turns it on for a process (off by default)', async () => {
    const { execFileSync } = await import('node:child_process');
    const p = join(tmp, 'fault4.txt');
    const script = `import('${new URL('../../dist/runtime/io/atomic.js', import.meta.url).href}').then((m) => m.writeFileAtomic(${JSON.stringify(p)}, 'x'.repeat(100))).then(() => console.log('ok'), (e) => console.log(e.message))`;
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, MTC_FAULT_WRITE: '' } }).trim()).toBe('ok');
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, MTC_FAULT_WRITE: 'fault4@7' } }).trim()).toBe(`cannot write ${p}: no space left on the device; what was there before is unchanged`);
    expect(readFileSync(p, 'utf8')).toBe('x'.repeat(100));
  });
});

function optimizer() {
  return { kind: 'sgd' as const, steps: {}, slots: [{ variable: 'v', slot: 'momentum', shape: [3], values: new Float32Array([1, 2, 3]) }] };
}
function stateAt(epoch: number) {
  return {
    kind: 'latest' as const, stageKey: KEY, specHash: 'x', iteration: epoch * 3, epoch, iterationInEpoch: 0, epochLossSum: 0, epochSeconds: 0, totalEpochs: 9,
    history: [], validation: { ema: null, bestEma: null, bestEpoch: null }, rng: { seed: 1, batches: 'b', validation: 'v', nextBatch: epoch * 3 },
  };
}
