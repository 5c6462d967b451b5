import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { initFromPretrained, loadCheckpoint, saveCheckpoint } from '../../../src/runtime/model/checkpoint.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { heads, maxAbsDiff, tinyArch } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mt-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoints', () => {
  it('round-trips architecture, heads and every weight exactly, leaving no temp files', async () => {
    const m = UNet.create(tinyArch(), heads(2, 'liver'), 5);
    const ckpt = join(dir, 'a');
    await saveCheckpoint(m, ckpt);
    expect((await readdir(ckpt)).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await loadCheckpoint(ckpt);
    expect(loaded.architecture).toEqual(m.architecture);
    expect(loaded.heads).toEqual(m.heads);
    const w0 = m.weights();
    const w1 = loaded.weights();
    expect([...w1.keys()]).toEqual([...w0.keys()]);
    for (const [k, v] of w0) expect(maxAbsDiff(v, w1.get(k)!)).toBe(0);
    const x = tf.randomNormal([1, 8, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor5D;
    expect(maxAbsDiff(m.apply(x), loaded.apply(x))).toBe(0);
    m.dispose();
    loaded.dispose();
  });

  it('detects a weights.bin that does not match its manifest', async () => {
    const m = UNet.create(tinyArch(), heads(1), 5);
    const ckpt = join(dir, 'b');
    await saveCheckpoint(m, ckpt);
    m.dispose();
    const bin = await readFile(join(ckpt, 'weights.bin'));
    await writeFile(join(ckpt, 'weights.bin'), bin.subarray(0, bin.length - 4));
    await expect(loadCheckpoint(ckpt)).rejects.toThrow(/bytes, model.json expects/);
    await expect(loadCheckpoint(join(dir, 'missing'))).rejects.toThrow(/no checkpoint at/);
  });

  it('fine-tuning init copies the backbone by name and shape, never the heads', async () => {
    const src = UNet.create(tinyArch(), heads(3, 'src'), 1);
    const ckpt = join(dir, 'c');
    await saveCheckpoint(src, ckpt);
    const dst = UNet.create(tinyArch(), heads(2, 'dst'), 2);
    const freshHead = dst.weights().get('head.weight')!;
    const res = await initFromPretrained(dst, ckpt);
    const ws = src.weights();
    const wd = dst.weights();
    for (const name of res.copied) expect(maxAbsDiff(ws.get(name)!, wd.get(name)!)).toBe(0);
    expect(res.copied).toContain('enc0.conv0.weight');
    expect(res.copied).toContain('dec0.up.weight');
    expect(res.copied.some((n) => n.startsWith('head.'))).toBe(false);
    expect(res.copied.length).toBe(wd.size - 2);
    expect(res.skipped.map((s) => s.name).sort()).toEqual(['head.bias', 'head.weight']);
    expect(maxAbsDiff(wd.get('head.weight')!, freshHead)).toBe(0);
    src.dispose();
    dst.dispose();
  });

  it('fine-tuning init skips tensors whose shape differs and reports why', async () => {
    const src = UNet.create(tinyArch({ features: [2, 4] }), heads(1), 1);
    const ckpt = join(dir, 'd');
    await saveCheckpoint(src, ckpt);
    const dst = UNet.create(tinyArch({ features: [2, 6] }), heads(1), 2);
    const res = await initFromPretrained(dst, ckpt);
    expect(res.copied).toContain('enc0.conv0.weight');
    const enc1 = res.skipped.find((s) => s.name === 'enc1.conv0.weight');
    expect(enc1?.reason).toMatch(/shape \[3, 3, 3, 2, 4\] in checkpoint, \[3, 3, 3, 2, 6\] in model/);
    src.dispose();
    dst.dispose();
  });
});
