/**
 * Acceptance: resampling the spleen CT fixture from 0.79 x 0.79 x 5 mm to 1.5 x 1 x 1 mm ([z, y, x]:
 * z 5 -> 1.5 mm, y and x 0.79 -> 1 mm) matches nnU-Net's resample_data_or_seg as re-implemented with
 * scikit-image/scipy in bench/preprocess_reference.py. Tolerance: 1e-3 HU (max abs) for images
 * with order 3 and order 1 (the data span about -1024..1500 HU; the difference is float32 rounding
 * of our intermediate passes); labels exactly equal.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../../../src/graph/types.js';
import { readNifti, readNiftiLabel } from '../../../../src/runtime/data/nifti/index.js';
import { planResampling, resampleImage, resampleLabel } from '../../../../src/runtime/data/preprocess/resample.js';
import { HAS_SCIPY_STACK, SCIPY_SKIP_REASON, runPythonFile } from '../python.js';
import { REALCT_DIR, REALCT_SKIP_REASON } from '../../../realct.js';

const REAL = join(REALCT_DIR ?? '/nonexistent', 'sub-spleen2_ct.nii.gz');
const SEG = REAL.replace('_ct.nii.gz', '_ct_seg-manual.nii.gz');
const SCRIPT = resolve(__dirname, '../../../../bench/preprocess_reference.py');
const TARGET: Vec3 = [1.5, 1, 1];
const TOLERANCE_HU = 1e-3;
const tmp = mkdtempSync(join(tmpdir(), 'mt-scipy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function reference(file: string, order: number, extra: string[] = []): { shape: Vec3; data: Buffer; separate_axis: number | null } {
  const out = join(tmp, `ref_${order}_${extra.join('')}.bin`);
  const r = JSON.parse(runPythonFile(SCRIPT, ['resample', file, out, '--spacing', ...TARGET.map(String), '--order', String(order), ...extra])) as {
    shape: Vec3;
    separate_axis: number | null;
  };
  return { ...r, data: readFileSync(out) };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const ready = HAS_SCIPY_STACK && REALCT_DIR !== null;
describe.skipIf(!ready)('resampling matches nnU-Net (scipy / scikit-image) on the spleen CT', () => {
  it.each([3, 1] as const)('image, order %i, separate z', async (order) => {
    const { volume } = await readNifti(REAL, { orientation: 'ras' });
    const plan = planResampling(volume.shape, volume.spacing, TARGET);
    expect(plan.separateAxis).toBe(0);
    const ref = reference(REAL, order);
    expect(plan.newShape).toEqual(ref.shape);
    expect(ref.separate_axis).toBe(0);
    const ours = resampleImage(volume.data, volume.shape, plan.newShape, order, { separateAxis: plan.separateAxis });
    const theirs = new Float32Array(ref.data.buffer, ref.data.byteOffset, ref.data.byteLength / 4);
    expect(ours.length).toBe(theirs.length);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(TOLERANCE_HU);
  });

  it('image, order 3, all axes together (scipy.ndimage.zoom through skimage resize)', async () => {
    const { volume } = await readNifti(REAL, { orientation: 'ras' });
    const plan = planResampling(volume.shape, volume.spacing, TARGET);
    const ref = reference(REAL, 3, ['--no-separate-z']);
    const ours = resampleImage(volume.data, volume.shape, plan.newShape, 3);
    const theirs = new Float32Array(ref.data.buffer, ref.data.byteOffset, ref.data.byteLength / 4);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(TOLERANCE_HU);
  });

  it('label map: one-hot linear in-plane, nearest along z — identical', async () => {
    const { volume } = await readNiftiLabel(SEG, { orientation: 'ras' });
    const plan = planResampling(volume.shape, volume.spacing, TARGET);
    const ref = reference(SEG, 1, ['--seg']);
    const ours = resampleLabel(volume.data, volume.shape, plan.newShape, { separateAxis: plan.separateAxis });
    let diff = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== ref.data[i]) diff++;
    expect(ours.length).toBe(ref.data.length);
    expect(diff).toBe(0);
  });
});
if (!ready) it.skip(`scipy resampling cross-check: ${REALCT_DIR === null ? REALCT_SKIP_REASON : SCIPY_SKIP_REASON}`, () => {});
