import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataCheckCommand, dataFingerprintCommand, dataInspectCommand, type InspectReport } from '../../src/cli/commands/data.js';
import { writeNifti } from '../../src/runtime/data/nifti/index.js';
import { FIXTURE_AFFINE, SHAPE, SPACING, writeDataset } from '../runtime/data/fixtures.js';
import { captureIO } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-cli-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const GOOD = join(tmp, 'Dataset001_Good');
const BAD = join(tmp, 'Dataset002_Bad');
beforeAll(async () => {
  await writeDataset(GOOD, 3);
  await writeDataset(BAD, 3);
  unlinkSync(join(BAD, 'labelsTr', 'case_001.nii.gz'));
  const label = new Uint8Array(SHAPE[0] * SHAPE[1] * SHAPE[2]);
  label[5] = 9;
  await writeNifti(join(BAD, 'labelsTr', 'case_002.nii.gz'), { data: label, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8', affine: FIXTURE_AFFINE });
});

describe('mtc data inspect', () => {
  it('prints shape, datatype, spacing, the affine, the orientation code and intensities after scaling', async () => {
    const io = captureIO(tmp);
    expect(await dataInspectCommand('Dataset001_Good/imagesTr/case_000_0000.nii.gz', {}, io)).toBe(0);
    const text = io.stdout.join('\n');
    expect(text).toContain('shape        10 x 8 x 6  (x, y, z)');
    expect(text).toContain('datatype     int16');
    expect(text).toContain('spacing      1 x 1 x 3  (x, y, z)');
    expect(text).toContain('orientation  RAS');
    expect(text).toContain('from the sform (qform_code 1, sform_code 1)');
    expect(text).toContain('[ 1  0  0 -4]');
    expect(text).toMatch(/intensity {4}min -1000, max 12\d, mean /);
  });

  it('--json gives the same facts as data', async () => {
    const io = captureIO(tmp);
    await dataInspectCommand(join(GOOD, 'labelsTr', 'case_000.nii.gz'), { json: true }, io);
    const r = JSON.parse(io.stdout.join('')) as InspectReport;
    expect(r.shape).toEqual([10, 8, 6]);
    expect(r.datatype).toBe('uint8');
    expect(r.zooms).toEqual([1, 1, 3]);
    expect(r.affine[2]).toEqual([0, 0, 3, 7]);
    expect(r.orientation).toBe('RAS');
    expect(r.intensity.min).toBe(0);
    expect(r.intensity.max).toBe(2);
  });

  it('a bad file is an MtDataError naming it (the CLI prints it without a stack trace)', async () => {
    await expect(dataInspectCommand(join(tmp, 'missing.nii.gz'), {}, captureIO(tmp))).rejects.toThrow(/missing\.nii\.gz: file not found/);
  });

  const REAL = resolve(__dirname, '../../../shared/fixtures/realct');
  it.skipIf(!existsSync(REAL))('reports the real CT fixtures with the header facts of their README', async () => {
    const io = captureIO(tmp);
    await dataInspectCommand(join(REAL, 'sub-spleen2_ct.nii.gz'), { json: true }, io);
    const spleen = JSON.parse(io.stdout.join('')) as InspectReport;
    expect(spleen.shape).toEqual([164, 166, 26]);
    expect(spleen.datatype).toBe('float32');
    expect(spleen.zooms[0]).toBeCloseTo(0.7949, 4);
    expect(spleen.zooms[2]).toBeCloseTo(5, 4);
    expect(spleen.orientation).toBe('RAS');
    const io2 = captureIO(tmp);
    await dataInspectCommand(join(REAL, 'example_ct_sm.nii.gz'), { json: true }, io2);
    const abd = JSON.parse(io2.stdout.join('')) as InspectReport;
    expect(abd.shape).toEqual([122, 101, 30]);
    expect(abd.datatype).toBe('int16');
    expect(abd.zooms.map((z) => Math.round(z * 1000) / 1000)).toEqual([3, 3, 3]);
    expect(abd.orientation).toBe('RAS');
  });
  if (!existsSync(REAL)) it.skip(`real CT fixtures: ${REAL} is absent`, () => {});
});

describe('mtc data check', () => {
  it('passes a valid dataset', async () => {
    const io = captureIO(tmp);
    expect(await dataCheckCommand('Dataset001_Good', {}, io)).toBe(0);
    expect(io.stdout.join('\n')).toContain('OK, 3 case(s)');
  });

  it('reports every problem, not just the first, and exits 1', async () => {
    const io = captureIO(tmp);
    expect(await dataCheckCommand(BAD, {}, io)).toBe(1);
    const text = io.stderr.join('\n');
    expect(text).toContain('2 problems');
    expect(text).toContain('case_001_0000.nii.gz has no label');
    expect(text).toContain('holds label value(s) 9');
    const j = captureIO(tmp);
    expect(await dataCheckCommand(BAD, { json: true }, j)).toBe(1);
    const r = JSON.parse(j.stdout.join('')) as { ok: boolean; problems: string[] };
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(2);
  });
});

describe('mtc data fingerprint', () => {
  it('prints the fingerprint and caches it next to the dataset', async () => {
    const io = captureIO(tmp);
    expect(await dataFingerprintCommand(GOOD, {}, io)).toBe(0);
    expect(io.stdout.join('\n')).toContain('median spacing  3 x 1 x 1 mm');
    expect(existsSync(join(tmp, '.mtc-cache', 'fingerprints'))).toBe(true);
    const again = captureIO(tmp);
    await dataFingerprintCommand(GOOD, { json: true }, again);
    const fp = JSON.parse(again.stdout.join('')) as { cached: boolean; intensity: { mean: number } };
    expect(fp.cached).toBe(true);
    expect(fp.intensity.mean).toBeGreaterThan(60);
  });
});
