import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../src/graph/types.js';
import { main } from '../../../src/cli/main.js';
import { writeNifti } from '../../../src/runtime/data/nifti/write.js';
import { evaluateFolder } from '../../../src/runtime/eval/folder.js';
import { hd95 } from '../../../src/runtime/eval/hd95.js';
import { captureIO } from '../../cli/helpers.js';

const SHAPE: Vec3 = [4, 6, 6];
const SPACING: Vec3 = [3, 1, 1];
const N = 4 * 6 * 6;

function map(voxels: Record<number, number>): Uint8Array {
  const m = new Uint8Array(N);
  for (const [i, v] of Object.entries(voxels)) m[Number(i)] = v;
  return m;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const fill = (idx: number[], v: number) => Object.fromEntries(idx.map((i) => [i, v]));

/** Three cases. organ = label 1, lesion = 2 (a region class "any" = [1, 2]). */
const CASES = {
  // organ 8 voxels predicted 4 of them; lesion absent in both (Dice NaN)
  c1: { ref: map(fill(range(0, 8), 1)), pred: map(fill(range(0, 4), 1)) },
  // organ perfect; lesion in the reference, not predicted (Dice 0, HD95 infinite)
  c2: { ref: map({ ...fill(range(40, 50), 1), 100: 2 }), pred: map(fill(range(40, 50), 1)) },
  // organ predicted with an extra voxel far away; lesion perfect
  c3: { ref: map({ ...fill(range(60, 64), 1), 70: 2 }), pred: map({ ...fill(range(60, 64), 1), 143: 1, 70: 2 }) },
};

async function dataset(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mtc-eval-'));
  const ds = join(root, 'Dataset001_Test');
  await mkdir(join(ds, 'labelsTr'), { recursive: true });
  await mkdir(join(root, 'pred'), { recursive: true });
  await writeFile(
    join(ds, 'dataset.json'),
    JSON.stringify({ channel_names: { '0': 'CT' }, labels: { background: 0, organ: 1, lesion: 2 }, numTraining: 3, file_ending: '.nii.gz' }),
  );
  for (const [id, c] of Object.entries(CASES)) {
    await writeNifti(join(ds, 'labelsTr', `${id}.nii.gz`), { data: c.ref, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8' });
    await writeNifti(join(root, 'pred', `${id}.nii.gz`), { data: c.pred, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8' });
  }
  return root;
}

const region = (m: Uint8Array, v: number) => Uint8Array.from(m, (x) => (x === v ? 1 : 0));

describe('mtc eval', () => {
  it('Dice and HD95 per case and class, NaN-aware means, matched by file name', async () => {
    const root = await dataset();
    const r = await evaluateFolder(join(root, 'pred'), join(root, 'Dataset001_Test', 'labelsTr'));
    const get = (c: string, k: string) => r.cases.find((m) => m.case === c && m.class === k)!;
    expect(get('c1', 'organ').dice).toBeCloseTo(8 / 12, 12);
    expect(get('c1', 'lesion')).toMatchObject({ dice: null, hd95: null });
    expect(get('c2', 'organ')).toMatchObject({ dice: 1, hd95: 0 });
    expect(get('c2', 'lesion')).toMatchObject({ dice: 0, hd95: Infinity });
    expect(get('c3', 'organ').dice).toBeCloseTo(8 / 9, 12);
    expect(get('c3', 'organ').hd95).toBeCloseTo(hd95(region(CASES.c3.pred, 1), region(CASES.c3.ref, 1), SHAPE, SPACING), 12);
    const organ = r.classes.find((c) => c.class === 'organ')!;
    expect(organ.dice).toBeCloseTo((8 / 12 + 1 + 8 / 9) / 3, 12);
    const lesion = r.classes.find((c) => c.class === 'lesion')!;
    expect(lesion).toMatchObject({ cases: 3, defined: 2, dice: 0.5, hd95: Infinity, hd95Infinite: 1 });
    expect(r.summary.classAverage).toBeCloseTo((organ.dice! + 0.5) / 2, 12);
  });

  it('--json: NaN as null, infinity as "Infinity"; groups; missing predictions are an error', async () => {
    const root = await dataset();
    const io = captureIO(root);
    const code = await main(['eval', 'pred', 'Dataset001_Test/labelsTr', '--json', '--group', 'cancer=lesion'], io);
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    const j = JSON.parse(io.stdout.join('')) as { cases: { case: string; class: string; dice: unknown; hd95: unknown }[]; summary: { groups: { name: string; dice: number }[] } };
    expect(Object.keys(j.cases[0])).toEqual(['case', 'class', 'dice', 'hd95']);
    expect(j.cases.find((c) => c.case === 'c1' && c.class === 'lesion')).toEqual({ case: 'c1', class: 'lesion', dice: null, hd95: null });
    expect(j.cases.find((c) => c.case === 'c2' && c.class === 'lesion')).toEqual({ case: 'c2', class: 'lesion', dice: 0, hd95: 'Infinity' });
    expect(j.summary.groups).toEqual([{ name: 'cancer', dice: 0.5, classes: 1, hd95: 'Infinity' }]);
    const text = captureIO(root);
    expect(await main(['eval', 'pred', 'Dataset001_Test/labelsTr'], text)).toBe(0);
    expect(text.stdout.join('\n')).toMatch(/lesion\s+2\s+2\/3\s+0\.5000\s+inf \(1 inf\)/);
    await writeNifti(join(root, 'Dataset001_Test', 'labelsTr', 'c4.nii.gz'), { data: new Uint8Array(N), shape: SHAPE, spacing: SPACING }, { datatype: 'uint8' });
    const missing = captureIO(root);
    expect(await main(['eval', 'pred', 'Dataset001_Test/labelsTr'], missing)).toBe(1);
    expect(missing.stderr.join('\n')).toMatch(/pred: has no prediction for 1 of the 4 reference case\(s\): c4\. Predict them/);
  });

  it('fold_* folders are a cross-validation: per-fold means, their mean and std, and the pooled mean', async () => {
    const root = await dataset();
    for (const [fold, ids] of [[0, ['c1', 'c2']], [1, ['c3']]] as const) {
      await mkdir(join(root, 'cv', `fold_${fold}`), { recursive: true });
      for (const id of ids) {
        const c = CASES[id as keyof typeof CASES];
        await writeNifti(join(root, 'cv', `fold_${fold}`, `${id}.nii.gz`), { data: c.pred, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8' });
      }
    }
    const r = await evaluateFolder(join(root, 'cv'), join(root, 'Dataset001_Test', 'labelsTr'), { hd95: false });
    const cv = r.crossValidation!;
    expect(cv.folds).toEqual([0, 1]);
    const organ = cv.classes.find((c) => c.name === 'organ')!;
    const f0 = (8 / 12 + 1) / 2;
    const f1 = 8 / 9;
    expect(organ.perFold[0]).toBeCloseTo(f0, 12);
    expect(organ.perFold[1]).toBeCloseTo(f1, 12);
    expect(organ.mean).toBeCloseTo((f0 + f1) / 2, 12);
    expect(organ.std).toBeCloseTo(Math.abs(f0 - f1) / 2, 12);
    expect(organ.pooled).toBeCloseTo((8 / 12 + 1 + 8 / 9) / 3, 12);
    expect(r.cases.every((c) => c.hd95 === undefined && c.fold !== undefined)).toBe(true);
  });

  it('refuses predictions on another grid', async () => {
    const root = await dataset();
    await writeNifti(join(root, 'pred', 'c1.nii.gz'), { data: new Uint8Array(N), shape: [6, 6, 4], spacing: SPACING }, { datatype: 'uint8' });
    await expect(evaluateFolder(join(root, 'pred'), join(root, 'Dataset001_Test', 'labelsTr'))).rejects.toThrow(/c1\.nii\.gz: is 6x6x4 voxels \[z,y,x\] but its reference .* is 4x6x6/);
  });
});
