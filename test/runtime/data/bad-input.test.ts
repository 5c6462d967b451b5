/**
 * Bad input: each problem gives an MtDataError naming the file, saying what is wrong and what to do,
 * and nothing is written to the preprocessing cache.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../src/graph/types.js';
import { diagonalAffine } from '../../../src/runtime/data/nifti/affine.js';
import { MtDataError } from '../../../src/runtime/data/errors.js';
import { writeNifti } from '../../../src/runtime/data/nifti/index.js';
import { preprocessCollectionDetailed } from '../../../src/runtime/data/preprocess/collection.js';
import { CLASSES, DATASET_JSON, FIXTURE_AFFINE, SHAPE, SPACING, caseArrays, writeDataset } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-bad-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const GOOD = join(tmp, 'Dataset001_Good');
beforeAll(async () => {
  await writeDataset(GOOD, 3);
});

let counter = 0;
function copy(): string {
  const dir = join(tmp, `Dataset1${String(++counter).padStart(2, '0')}_Bad`);
  cpSync(GOOD, dir, { recursive: true });
  return dir;
}
const img = (dir: string, c = 1): string => join(dir, 'imagesTr', `case_00${c}_0000.nii.gz`);
const lab = (dir: string, c = 1): string => join(dir, 'labelsTr', `case_00${c}.nii.gz`);

/** Runs preprocessing with a cache; expects an MtDataError with every fragment, and an empty cache. */
async function expectRejected(dir: string, ...fragments: (string | RegExp)[]): Promise<string> {
  const cacheDir = join(tmp, `cache-${counter}`);
  let error: unknown;
  try {
    await preprocessCollectionDetailed([{ name: 'D', dir, classes: CLASSES }], {
      spacing: [3, 2, 2] as Vec3,
      normalization: { kind: 'ct', scope: 'dataset' },
      split: { holdoutFraction: 0.34, seed: 1 },
      foregroundSamples: 1000,
      cacheDir,
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MtDataError);
  const message = (error as Error).message;
  for (const f of fragments) {
    if (typeof f === 'string') expect(message).toContain(f);
    else expect(message).toMatch(f);
  }
  expect(message).not.toMatch(/\n\s+at /); // no stack trace in the message
  const written = existsSync(cacheDir) ? readdirSync(cacheDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
  expect(written.map((e) => e.name)).toEqual([]);
  return message;
}

describe('bad input is refused with a clear error and nothing cached', () => {
  it('the good dataset goes through (the baseline of the copies below)', async () => {
    const r = await preprocessCollectionDetailed([{ name: 'D', dir: GOOD, classes: CLASSES }], {
      spacing: [3, 2, 2] as Vec3,
      normalization: { kind: 'ct', scope: 'dataset' },
      split: { holdoutFraction: 0.34, seed: 1 },
      foregroundSamples: 1000,
    });
    expect(r.datasets[0].cases).toHaveLength(3);
  });

  it('a truncated .nii.gz', async () => {
    const dir = copy();
    const bytes = readFileSync(img(dir));
    writeFileSync(img(dir), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expectRejected(dir, img(dir), 'truncated or corrupt', 'Re-export or re-copy');
  });

  it('wrong magic bytes', async () => {
    const dir = copy();
    const raw = gunzipSync(readFileSync(img(dir)));
    raw.write('xx', 344, 'latin1');
    writeFileSync(img(dir), gzipSync(raw));
    await expectRejected(dir, img(dir), 'not a NIfTI-1 file', 'magic', 'Check that the file is a NIfTI image');
  });

  it('a file that is not NIfTI at all', async () => {
    const dir = copy();
    writeFileSync(img(dir), gzipSync(Buffer.from('this is a DICOM, not a NIfTI '.repeat(40))));
    await expectRejected(dir, img(dir), 'not a NIfTI file', 'sizeof_hdr');
  });

  it('header dims larger than the data', async () => {
    const dir = copy();
    const raw = gunzipSync(readFileSync(img(dir)));
    raw.writeInt16LE(SHAPE[0] + 2, 46); // dim[3] = nz + 2
    writeFileSync(img(dir), gzipSync(raw));
    await expectRejected(dir, img(dir), `header says ${SHAPE[2]}x${SHAPE[1]}x${SHAPE[0] + 2} voxels`, 'truncated or its header dims are wrong');
  });

  it('header dims smaller than the data', async () => {
    const dir = copy();
    const raw = gunzipSync(readFileSync(img(dir)));
    raw.writeInt16LE(SHAPE[0] - 2, 46);
    writeFileSync(img(dir), gzipSync(raw));
    await expectRejected(dir, img(dir), 'bytes after the', 'header dims do not match the data', 'Fix the header dims');
  });

  it('NaN or Inf voxels', async () => {
    const dir = copy();
    // our writer refuses non-finite values, so write finite float32 voxels and patch two of them
    await writeNifti(img(dir), { data: caseArrays(1).image, shape: SHAPE, spacing: SPACING }, { datatype: 'float32', affine: FIXTURE_AFFINE });
    const f32 = gunzipSync(readFileSync(img(dir)));
    f32.writeFloatLE(NaN, 352 + 4 * 123);
    f32.writeFloatLE(-Infinity, 352 + 4 * 300);
    writeFileSync(img(dir), gzipSync(f32));
    await expectRejected(dir, img(dir), '2 voxel(s) are NaN or infinite', 'np.nan_to_num');
  });

  it('image/label shape mismatch', async () => {
    const dir = copy();
    const small: Vec3 = [SHAPE[0], SHAPE[1], SHAPE[2] - 1];
    await writeNifti(lab(dir), { data: new Uint8Array(small[0] * small[1] * small[2]), shape: small, spacing: SPACING }, { datatype: 'uint8', affine: FIXTURE_AFFINE });
    await expectRejected(dir, 'case case_001', `image is ${SHAPE.join('x')} voxels [z,y,x] but its label is ${small.join('x')}`);
  });

  it('image/label affine mismatch', async () => {
    const dir = copy();
    const { label } = caseArrays(1);
    await writeNifti(lab(dir), { data: label, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8', affine: diagonalAffine(SPACING, [40, 10, 7]) });
    await expectRejected(dir, 'case case_001', 'affines differ by up to 44.0000 mm', "resave the label with the image's header");
  });

  it('label values not declared in dataset.json', async () => {
    const dir = copy();
    const { label } = caseArrays(1);
    label[10] = 7;
    await writeNifti(lab(dir), { data: label, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8', affine: FIXTURE_AFFINE });
    await expectRejected(dir, lab(dir), 'holds label value(s) 7 (1 voxels) that dataset.json does not declare');
  });

  it('a missing labelsTr file', async () => {
    const dir = copy();
    unlinkSync(lab(dir, 2));
    await expectRejected(dir, `image ${img(dir, 2)} has no label ${lab(dir, 2)}`, 'Expected an nnU-Net v2 raw dataset');
  });

  it('invalid dataset.json: missing keys (every one reported)', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ labels: DATASET_JSON.labels }));
    const m = await expectRejected(dir, "lacks the required key 'channel_names'", "lacks the required key 'numTraining'", "lacks the required key 'file_ending'", join(dir, 'dataset.json'));
    expect(m).toContain('3 problems');
  });

  it('invalid dataset.json: regions without regions_class_order', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ ...DATASET_JSON, labels: { background: 0, organ: [1, 2], lesion: 2 } }));
    await expectRejected(dir, "lacks 'regions_class_order'", "'organ'", join(dir, 'dataset.json'));
  });

  it('several problems in one dataset are all reported', async () => {
    const dir = copy();
    unlinkSync(lab(dir, 0));
    const { label } = caseArrays(2);
    label[0] = 9;
    await writeNifti(lab(dir, 2), { data: label, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8', affine: FIXTURE_AFFINE });
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ ...DATASET_JSON, numTraining: 5 }));
    await expectRejected(dir, 'has no label', 'numTraining is 5 but imagesTr holds 3');
  });
});

