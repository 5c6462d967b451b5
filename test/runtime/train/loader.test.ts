import { describe, expect, it } from 'vitest';
import type { AugmentationSpec, HeadSpec } from '../../../src/graph/types.js';
import { BatchDrawer, type BatchArrays } from '../../../src/runtime/train/batch.js';
import { BatchLoaderError, createBatchSource, shareCase } from '../../../src/runtime/train/loader.js';
import { blobDataset, tinyTrainParams } from './helpers.js';

const heads: HeadSpec[] = [
  { dataset: 'a', name: 'blob', labels: [1] },
  { dataset: 'b', name: 'blob', labels: [1] },
];
const nnunet: AugmentationSpec = {
  name: 'nnunet',
  transforms: [
    { kind: 'rotation', p: 0.2, range: [-30, 30], axes: [0, 1, 2] },
    { kind: 'scaling', p: 0.2, range: [0.7, 1.4] },
    { kind: 'noise', p: 0.1, range: [0, 0.1] },
    { kind: 'blur', p: 0.2, range: [0.5, 1] },
    { kind: 'brightness', p: 0.15, range: [0.75, 1.25] },
    { kind: 'contrast', p: 0.15, range: [0.75, 1.25] },
    { kind: 'low_resolution', p: 0.25, range: [0.5, 1] },
    { kind: 'gamma_inverted', p: 0.1, range: [0.7, 1.5] },
    { kind: 'gamma', p: 0.3, range: [0.7, 1.5] },
    { kind: 'mirror', p: 0.5, axes: [0, 1, 2] },
  ],
};
const data = [blobDataset('a', 4, [20, 20, 20], 1), blobDataset('b', 3, [18, 22, 20], 2)];
const params = tinyTrainParams(['a', 'b'], heads, { augmentation: nnunet, seed: 7 });

async function drain(workers: number, start: number, count: number): Promise<BatchArrays[]> {
  const source = createBatchSource({ datasets: data, params, startIteration: start, total: start + count, workers, queue: 3 });
  try {
    const out: BatchArrays[] = [];
    for (let i = 0; i < count; i++) out.push(await source.next());
    return out;
  } finally {
    await source.close();
  }
}

describe('batch source', () => {
  it('gives the same batches with 0, 1 and 2 workers, each batch a function of (seed, k, data)', async () => {
    const inline = await drain(0, 0, 12);
    const one = await drain(1, 0, 12);
    const two = await drain(2, 0, 12);
    for (const other of [one, two]) {
      expect(other.map((b) => b.cases)).toEqual(inline.map((b) => b.cases));
      other.forEach((b, k) => {
        expect(b.applied).toEqual(inline[k].applied);
        expect(Buffer.from(b.image.buffer).equals(Buffer.from(inline[k].image.buffer))).toBe(true);
        expect(Buffer.from(b.labels.buffer).equals(Buffer.from(inline[k].labels.buffer))).toBe(true);
        expect(Array.from(b.regions)).toEqual(Array.from(inline[k].regions));
        expect(Array.from(b.mask)).toEqual(Array.from(inline[k].mask));
      });
    }
    // Augmentation really happened in some of them, and batches differ from each other.
    expect(inline.some((b) => b.applied.some((a) => a.includes('rotation') || a.includes('scaling')))).toBe(true);
    expect(inline[0].image).not.toEqual(inline[1].image);
    // Starting at k needs nothing but k (resume): batches 5.. equal those of a source started at 0.
    const resumed = await drain(2, 5, 4);
    resumed.forEach((b, i) => expect(Buffer.from(b.image.buffer).equals(Buffer.from(inline[5 + i].image.buffer))).toBe(true));
    const drawer = new BatchDrawer(data, params);
    expect(drawer.draw(3).cases).toEqual(inline[3].cases);
  });

  it('shares case arrays with workers through SharedArrayBuffers, copying each case at most once', () => {
    const c = data[0].cases[0];
    const s = shareCase(c);
    expect(s.image.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(s.label.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(s.image)).toEqual(Array.from(c.image));
    expect(shareCase(c)).toBe(s);
    // A case already on shared memory is used as it is.
    expect(shareCase({ ...c, image: s.image, label: s.label, classVoxels: s.classVoxels }).image).toBe(s.image);
  });

  for (const how of ['throw', 'exit'] as const) {
    it(`reports a worker that ${how === 'throw' ? 'throws' : 'dies'}, with the batch and case, and does not hang`, async () => {
      const source = createBatchSource({ datasets: data, params, startIteration: 0, total: 10, workers: 2, queue: 4, failAt: { batch: 2, how } });
      let error: unknown;
      try {
        for (let i = 0; i < 10; i++) await source.next();
      } catch (err) {
        error = err;
      } finally {
        await source.close();
      }
      expect(error).toBeInstanceOf(BatchLoaderError);
      const e = error as BatchLoaderError;
      expect(e.batch).toBe(2);
      const expected = new BatchDrawer(data, params).draw(2).cases[0];
      expect(e.caseId).toBe(expected);
      expect(e.message).toContain(`batch 2`);
      expect(e.message).toContain(`case '${expected}'`);
      expect(e.message).toMatch(how === 'throw' ? /injected failure/ : /stopped unexpectedly \(exit code 3\)/);
      await expect(source.next()).rejects.toThrow();
    });
  }

  it('reports a failure on the calling thread too (0 workers)', async () => {
    const source = createBatchSource({ datasets: data, params, startIteration: 0, total: 4, workers: 0, failAt: { batch: 1, how: 'throw' } });
    await source.next();
    await expect(source.next()).rejects.toThrow(/loading batch 1 failed at case '.*' of dataset '.*': injected failure/);
  });

  it('rejects next() after close and past the last batch', async () => {
    const source = createBatchSource({ datasets: data, params, startIteration: 0, total: 1, workers: 1 });
    await source.next();
    await expect(source.next()).rejects.toThrow(/batch 1 asked for, but the training has 1 iterations/);
    await source.close();
    await expect(source.next()).rejects.toThrow(/closed/);
    await source.close();
  });
});
