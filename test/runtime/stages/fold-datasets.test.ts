import { describe, expect, it } from 'vitest';
import type { DatasetSpec, RuntimeGraph } from '../../../src/graph/types.js';
import type { PreprocessedCase } from '../../../src/runtime/data/types.js';
import { foldDatasets } from '../../../src/runtime/stages/data.js';

const SPLIT = { folds: 5, seed: 12345 };

function setup(counts: Record<string, number>) {
  const datasets = Object.keys(counts).map((name) => ({ name, root: `/nowhere/${name}`, splitFile: null }) as unknown as DatasetSpec);
  const ctx = { graph: { datasets } as unknown as RuntimeGraph, dataRoot: '/nowhere' };
  // ids listed in reverse order: the training list comes back sorted
  const caseOf = (name: string, k: number) => ({ id: `${name}_${String(k).padStart(3, '0')}`, dataset: name }) as PreprocessedCase;
  const cases = new Map<string, PreprocessedCase[]>();
  for (const [name, n] of Object.entries(counts)) cases.set(name, Array.from({ length: n }, (_, i) => caseOf(name, n - 1 - i)));
  return { ctx, cases };
}

describe('foldDatasets: which cases a training trains and validates on', () => {
  it('fold null (folds none) trains on every case of every dataset and holds none out', async () => {
    const { ctx, cases } = setup({ liver: 12, vessel: 10 });
    const data = await foldDatasets(ctx, cases, SPLIT, null);
    expect(data.map((d) => [d.name, d.train.length, d.holdout.length])).toEqual([['liver', 12, 0], ['vessel', 10, 0]]);
    expect(data[0].train).toEqual([...cases.get('liver')!.map((c) => c.id)].sort());
  });

  it('fold k trains on the other folds and validates on its own fifth (the same split for every k)', async () => {
    const { ctx, cases } = setup({ liver: 12 });
    const seen = new Set<string>();
    for (let k = 0; k < 5; k++) {
      const [d] = await foldDatasets(ctx, cases, SPLIT, k);
      expect(d.train.length + d.holdout.length).toBe(12);
      expect(d.train.filter((id) => d.holdout.includes(id))).toEqual([]);
      for (const id of d.holdout) seen.add(id);
    }
    expect(seen.size).toBe(12); // every case is validated on by exactly one fold
  });
});
