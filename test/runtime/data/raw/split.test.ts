import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldOf, kFoldSplits, readSplitFile } from '../../../../src/runtime/data/raw/split.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `case_${String(i).padStart(3, '0')}`);

describe('cross-validation splits', () => {
  it('cut a seeded shuffle of the sorted ids into k parts: every case validated exactly once', () => {
    const all = ids(23);
    const folds = kFoldSplits(all, 5, 12345, 'liver');
    expect(folds.map((f) => f.val.length)).toEqual([5, 5, 5, 4, 4]); // the first n % k parts one longer
    expect(folds.flatMap((f) => f.val).sort()).toEqual(all);
    for (const f of folds) {
      expect([...f.train, ...f.val].sort()).toEqual(all);
      expect(f.train).toEqual([...f.train].sort());
    }
  });

  it('are stable: the same ids (in any order) give the same folds, other datasets and seeds other ones', () => {
    const a = kFoldSplits(ids(20), 5, 12345, 'kidney');
    expect(kFoldSplits([...ids(20)].reverse(), 5, 12345, 'kidney')).toEqual(a);
    expect(kFoldSplits(ids(20), 5, 12345, 'spleen')).not.toEqual(a);
    expect(kFoldSplits(ids(20), 5, 1, 'kidney')).not.toEqual(a);
  });

  it('refuse a dataset with fewer cases than folds, and name a fold the split does not have', () => {
    expect(() => kFoldSplits(ids(3), 5, 1, 'tiny')).toThrow("dataset 'tiny' has 3 case(s), too few for a 5-fold cross-validation");
    expect(() => foldOf(kFoldSplits(ids(6), 2, 1, 'd'), 3, 'd', 'splits_final.json')).toThrow("dataset 'd': fold 3 is not in its split (splits_final.json has 2 folds, 0 to 1)");
  });

  it("read nnU-Net's splits_final.json and check it against the dataset", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-split-'));
    const good = join(dir, 'splits_final.json');
    await writeFile(good, JSON.stringify([{ train: ['b', 'c'], val: ['a'] }, { train: ['a'], val: ['b', 'c'] }]));
    expect(await readSplitFile(good, ['a', 'b', 'c'], 'd')).toEqual([{ train: ['b', 'c'], val: ['a'] }, { train: ['a'], val: ['b', 'c'] }]);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ train: ['a', 'zz'], val: ['a'] }, { val: [] }]));
    await expect(readSplitFile(bad, ['a', 'b'], 'd')).rejects.toThrow(
      /fold 0: case zz not in the dataset\n {2}- fold 0: a both trained on and validated on\n {2}- fold 1: 'train' must be a list of case ids\n {2}- fold 1: trains on no case/,
    );
    await writeFile(bad, 'not json');
    await expect(readSplitFile(bad, ['a'], 'd')).rejects.toThrow(/cannot read the split file of dataset 'd'/);
  });
});
