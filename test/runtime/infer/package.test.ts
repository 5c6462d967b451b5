import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInferenceModel } from '../../../src/runtime/infer/model-source.js';
import { decodeModelPackage, encodeModelPackage, PACKAGE_VERSION } from '../../../src/runtime/infer/package.js';
import { writeModelDir } from './helpers.js';

async function packageBytes(): Promise<{ bytes: Uint8Array; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mtc-pkg-'));
  for (const f of [0, 1]) await writeModelDir(join(dir, 'model', `fold_${f}`), { seed: 10 + f });
  return { bytes: await encodeModelPackage(await loadInferenceModel(join(dir, 'model'))), dir };
}

/** Re-signs a package after editing its header (so that only the edit is wrong). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as Record<string, unknown>;
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const rest = bytes.subarray(12 + len, bytes.length - 32);
  const out = new Uint8Array(12 + json.length + rest.length + 32);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(rest, 12 + json.length);
  out.set(createHash('sha256').update(out.subarray(0, out.length - 32)).digest(), out.length - 32);
  return out;
}

describe('model packages', () => {
  it('round-trips every fold, its weights, the plans and the versions', async () => {
    const { bytes, dir } = await packageBytes();
    const original = await loadInferenceModel(join(dir, 'model'));
    const file = join(dir, 'm.mtpkg');
    await writeFile(file, bytes);
    const back = await loadInferenceModel(file);
    expect(back.kind).toBe('package');
    expect(back.folds.map((f) => f.fold)).toEqual([0, 1]);
    expect(back.plans).toEqual(original.plans);
    for (let i = 0; i < 2; i++) {
      expect(back.folds[i].manifest).toEqual(original.folds[i].manifest);
      for (const [k, v] of original.folds[i].weights) expect(Array.from(back.folds[i].weights.get(k)!)).toEqual(Array.from(v));
    }
    const only1 = await loadInferenceModel(file, { folds: [1] });
    expect(only1.folds.map((f) => f.fold)).toEqual([1]);
    await expect(loadInferenceModel(file, { folds: [3] })).rejects.toThrow(/has no fold 3 \(folds here: 0, 1\)/);
  });

  it('refuses a corrupt, truncated, foreign or newer package by name', async () => {
    const { bytes } = await packageBytes();
    const flipped = Uint8Array.from(bytes);
    flipped[Math.floor(bytes.length * 0.7)] ^= 0x40;
    expect(() => decodeModelPackage('m.mtpkg', flipped)).toThrow(/m\.mtpkg: is corrupt \(checksum mismatch\)\. Export it again/);
    expect(() => decodeModelPackage('m.mtpkg', bytes.subarray(0, bytes.length - 100))).toThrow(/m\.mtpkg: is truncated/);
    expect(() => decodeModelPackage('x.nii.gz', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/x\.nii\.gz: is not a multitalent model package \(wrong magic bytes\)/);
    const newer = withHeader(bytes, (h) => {
      h.version = PACKAGE_VERSION + 1;
      (h.versions as Record<string, string>).mtc = '9.0.0';
    });
    expect(() => decodeModelPackage('m.mtpkg', newer)).toThrow(/is a model package of version 2, written by mtc 9\.0\.0; this mtc \(.*\) reads version 1\. Update mtc/);
    const oldWeights = withHeader(bytes, (h) => {
      ((h.folds as { manifest: { version: number } }[])[0].manifest).version = 7;
    });
    expect(() => decodeModelPackage('m.mtpkg', oldWeights)).toThrow(/holds weights in format multitalent-unet-checkpoint v7/);
    const badPlans = withHeader(bytes, (h) => {
      (h.plans as Record<string, unknown>).version = 3;
    });
    expect(() => decodeModelPackage('m.mtpkg', badPlans)).toThrow(/holds plans this mtc cannot use: is plans version 3/);
  });

  it('a package file on disk loads through the same path as folders', async () => {
    const { bytes, dir } = await packageBytes();
    const file = join(dir, 'model.bin');
    await writeFile(file, bytes);
    expect((await readFile(file)).length).toBe(bytes.length);
    expect((await loadInferenceModel(file)).folds.length).toBe(2);
  });
});
