import { describe, expect, it } from 'vitest';
import type { HeadSpec } from '../../../src/graph/types.js';
import { Prng } from '../../../src/runtime/rng.js';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/runtime/backend.js';
import { hostTargets, regionTables, sampleBatchArrays } from '../../../src/runtime/train/batch.js';
import { batchToTensors } from '../../../src/runtime/train/step.js';
import { CaseSampler } from '../../../src/runtime/train/sampler.js';
import { blobCase } from './helpers.js';

describe('batch assembly', () => {
  it('builds region targets from label values and masks heads of other datasets', () => {
    // dataset a: label 1 = organ, 2 = tumour; regions organ = {1, 2}, tumour = {2}. dataset b: one class.
    const a = blobCase('a0', 'a', [8, 8, 8], 1, { radius: 2, value: 2, classes: { organ: [1, 2], tumour: [2] } });
    a.label[0] = 1; // one organ-only voxel
    const heads: HeadSpec[] = [
      { dataset: 'a', name: 'organ', labels: [1, 2] },
      { dataset: 'a', name: 'tumour', labels: [2] },
      { dataset: 'b', name: 'thing', labels: [1] },
    ];
    const sampler = new CaseSampler([{ name: 'a', cases: [a], train: ['a0'], holdout: [] }], 'uniform');
    const out = sampleBatchArrays(sampler, heads, regionTables(heads), [8, 8, 8], 1, 0, null, new Prng(1));
    expect(Array.from(out.mask)).toEqual([1, 1, 0]);
    const targets = hostTargets(out);
    // Patch equals the whole volume (same size, random start must be 0).
    for (let i = 0; i < 512; i++) {
      const l = a.label[i];
      expect(targets[i * 3 + 0]).toBe(l === 1 || l === 2 ? 1 : 0);
      expect(targets[i * 3 + 1]).toBe(l === 2 ? 1 : 0);
      expect(targets[i * 3 + 2]).toBe(0);
      expect(out.image[i]).toBe(a.image[i]);
    }
    expect(out.cases).toEqual(['a0']);
  });

  it('batchToTensors gathers the same region targets on the backend', async () => {
    await initBackend('cpu');
    const a = blobCase('a0', 'a', [10, 10, 10], 2, { radius: 3, value: 2, classes: { organ: [1, 2], tumour: [2] } });
    const b = blobCase('b0', 'b', [10, 10, 10], 3, { radius: 2, value: 1, classes: { thing: [1] } });
    const heads: HeadSpec[] = [
      { dataset: 'a', name: 'organ', labels: [1, 2] },
      { dataset: 'a', name: 'tumour', labels: [2] },
      { dataset: 'b', name: 'thing', labels: [1] },
    ];
    const sampler = new CaseSampler([{ name: 'a', cases: [a], train: ['a0'], holdout: [] }, { name: 'b', cases: [b], train: ['b0'], holdout: [] }], 'uniform');
    const out = sampleBatchArrays(sampler, heads, regionTables(heads), [6, 6, 6], 4, 0.5, null, new Prng(4));
    const before = tf.memory().numTensors;
    const t = batchToTensors(out, [6, 6, 6], 3);
    expect(t.targets.shape).toEqual([4, 6, 6, 6, 3]);
    expect(Array.from(await t.targets.data())).toEqual(Array.from(hostTargets(out)));
    expect(Array.from(hostTargets(out)).some((v) => v === 1)).toBe(true);
    tf.dispose([t.image, t.targets, t.mask]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
