import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { loadRawCase, loadRawDataset } from '../../../../src/runtime/data/raw/dataset.js';
import { MtDataError } from '../../../../src/runtime/data/errors.js';
import { writeNifti } from '../../../../src/runtime/data/nifti/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const shape: Vec3 = [3, 4, 5];
const spacing: Vec3 = [2, 1, 1];
const good = join(tmp, 'Dataset001_Good');

async function writeCase(dir: string, id: string, labelValue: number, labelShape: Vec3 = shape) {
  const n = shape[0] * shape[1] * shape[2];
  await writeNifti(join(dir, 'imagesTr', `${id}_0000.nii.gz`), { data: new Float32Array(n).map((_, i) => i - 30), shape, spacing }, { datatype: 'int16' });
  const ln = labelShape[0] * labelShape[1] * labelShape[2];
  await writeNifti(join(dir, 'labelsTr', `${id}.nii.gz`), { data: new Uint8Array(ln).map((_, i) => (i % 4 === 0 ? labelValue : 0)), shape: labelShape, spacing }, { datatype: 'uint8' });
}

function writeJson(dir: string, value: unknown) {
  writeFileSync(join(dir, 'dataset.json'), typeof value === 'string' ? value : JSON.stringify(value));
}

const JSON_OK = { channel_names: { '0': 'CT' }, labels: { background: 0, organ: 1, lesion: 2 }, numTraining: 3, file_ending: '.nii.gz' };

beforeAll(async () => {
  await writeCase(good, 'c_000', 1);
  await writeCase(good, 'c_001', 2);
  await writeCase(good, 'c_002', 1);
  writeJson(good, JSON_OK);
});

function copyOf(name: string): string {
  const d = join(tmp, name);
  cpSync(good, d, { recursive: true });
  return d;
}

async function problemsOf(dir: string): Promise<MtDataError> {
  try {
    await loadRawDataset(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(MtDataError);
    return e as MtDataError;
  }
  throw new Error('expected the dataset to be rejected');
}

describe('loadRawDataset', () => {
  it('lists cases sorted with their files and declared labels', async () => {
    const ds = await loadRawDataset(good);
    expect(ds.folder).toBe('Dataset001_Good');
    expect(ds.cases.map((c) => c.id)).toEqual(['c_000', 'c_001', 'c_002']);
    expect(ds.labelValues).toEqual([0, 1, 2]);
    const c = await loadRawCase(ds, 'c_001');
    expect(c.image.shape).toEqual(shape);
    expect(c.label.data.includes(2)).toBe(true);
    expect(c.image.data[0]).toBe(-30);
  });

  it('reports every problem at once, naming the folder and the expected layout', async () => {
    const d = copyOf('Dataset002_Broken');
    unlinkSync(join(d, 'labelsTr', 'c_001.nii.gz')); // image without label
    await writeCase(d, 'c_003', 5); // undeclared label value 5 (and numTraining now wrong)
    await writeCase(d, 'c_004', 1, [3, 4, 6]); // label shape differs
    writeFileSync(join(d, 'labelsTr', 'orphan.nii.gz'), readFileSync(join(d, 'labelsTr', 'c_000.nii.gz')));
    const e = await problemsOf(d);
    expect(e.message).toContain(`${d}: not a valid nnU-Net raw dataset (5 problems)`);
    expect(e.message).toContain('c_001_0000.nii.gz has no label');
    expect(e.message).toContain('label value(s) 5');
    expect(e.message).toContain('numTraining is 3 but imagesTr holds 5');
    expect(e.message).toContain('case c_004: image is 3x4x5 voxels [z,y,x] but its label is 3x4x6');
    expect(e.message).toContain('orphan.nii.gz has no image');
    expect(e.message).toContain('Expected an nnU-Net v2 raw dataset');
    expect(e.problems).toHaveLength(5);
  });

  it('explains a missing, unparsable or invalid dataset.json', async () => {
    const a = copyOf('Dataset003_NoJson');
    unlinkSync(join(a, 'dataset.json'));
    expect((await problemsOf(a)).message).toContain(`${join(a, 'dataset.json')} is missing`);
    const b = copyOf('Dataset004_BadJson');
    writeJson(b, '{"labels": ');
    expect((await problemsOf(b)).message).toContain('is not valid JSON');
    const c = copyOf('Dataset005_Schema');
    writeJson(c, { channel_names: { '0': 'MRI' }, labels: { organ: 1 }, numTraining: 'three', file_ending: '.nii.gz' });
    const e = await problemsOf(c);
    expect(e.message).toContain("lacks the required key 'background'");
    expect(e.message).toContain('numTraining must be integer');
    const d = copyOf('Dataset006_NotCT');
    writeJson(d, { ...JSON_OK, channel_names: { '0': 'T2' } });
    expect((await problemsOf(d)).message).toContain('multitalent needs CT images');
  });

  it('reports a corrupt file inside the dataset with its path', async () => {
    const d = copyOf('Dataset007_Corrupt');
    const p = join(d, 'labelsTr', 'c_002.nii.gz');
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 20));
    expect((await problemsOf(d)).message).toContain(`${p}: cannot decompress`);
  });

  it('a missing folder says so and shows the layout', async () => {
    const e = await problemsOf(join(tmp, 'nowhere'));
    expect(e.message).toContain('dataset folder not found');
    expect(e.message).toContain('imagesTr');
  });
});
