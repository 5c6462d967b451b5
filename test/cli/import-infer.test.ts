/**
 * Issue #15's acceptance through the commands a user types: `mtc import` of an nnU-Net model built and
 * saved by PyTorch, then `mtc infer --no-tta` on a CT at the plans' spacing, one tile in size. Every
 * output voxel equals PyTorch's segmentation of the same CT (nnunet_reference.py: CT normalisation
 * with the plans' statistics, the network on the one tile, argmax or sigmoid > 0.5).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readNiftiLabel } from '../../src/runtime/data/nifti/index.js';
import { HAS_NIBABEL, NIBABEL_SKIP_REASON } from '../runtime/data/python.js';
import { buildReference, HAS_TORCH, TORCH_SKIP_REASON, type Reference } from '../runtime/import/reference.js';
import { captureIO } from './helpers.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

async function importAndInfer(ref: Reference): Promise<{ out: string; classes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'mtc-import-infer-'));
  cleanup.push(dir);
  const io = captureIO(dir);
  expect(await main(['import', ref.modelDir, '-o', 'model'], io), io.stderr.join('\n')).toBe(0);
  const ct = join(ref.out, 'reference', 'ct.nii.gz');
  const io2 = captureIO(dir);
  expect(await main(['infer', 'model', '-i', ct, '-o', 'pred', '--no-tta', '--no-tui', '--backend', 'cpu'], io2), io2.stderr.join('\n')).toBe(0);
  expect(io2.stdout.join('\n')).toMatch(/\[infer:ct\] .* -> cropped and resampled to/);
  const out = join(dir, 'pred', 'ct');
  return { out, classes: readdirSync(out).filter((f) => f.endsWith('.nii.gz')) };
}

describe.skipIf(!HAS_TORCH || !HAS_NIBABEL)('mtc import, then mtc infer --no-tta, segments as PyTorch does', () => {
  it.each([
    ['v2 PlainConvUNet, softmax', ['v2', '--arch', 'plain', '--ct', '--spacing', '2,1.5,1.5']],
    ['v2 ResidualEncoderUNet, regions', ['v2', '--arch', 'resenc', '--regions', '--ct']],
    ['MultiTalent v1, 47 region masks', ['v1', '--ct']],
  ])('%s', async (_, args) => {
    const ref = buildReference(args);
    cleanup.push(ref.out);
    const model = JSON.parse(readFileSync(join(ref.out, 'reference', 'meta.json'), 'utf8')) as { patch: number[] };
    const n = model.patch.reduce((a, b) => a * b, 1);
    const { out } = await importAndInfer(ref);
    const plans = JSON.parse(readFileSync(join(out, '..', '..', 'model', 'plans.json'), 'utf8')) as {
      activation: string;
      heads: { name: string; dataset: string; labels: number[] }[];
    };
    const names = plans.heads.map((h) => h.name);
    const fileOf = (i: number) => {
      const unique = new Set(names).size === names.length;
      return join(out, `${unique ? names[i] : `${plans.heads[i].dataset}.${names[i]}`}.nii.gz`);
    };
    let differ = 0;
    let foreground = 0;
    if (plans.activation === 'softmax') {
      const want = new Uint8Array(readFileSync(join(ref.out, 'reference', 'segmentation.bin')));
      // channel k is label heads[k].labels[0]; every class but the background has its mask
      for (let k = 1; k < plans.heads.length; k++) {
        const got = (await readNiftiLabel(fileOf(k), { orientation: 'ras' })).volume.data;
        expect(got.length).toBe(n);
        for (let i = 0; i < n; i++) {
          const w = want[i] === k ? 1 : 0;
          if (got[i] !== w) differ++;
          foreground += w;
        }
      }
    } else {
      const want = new Uint8Array(readFileSync(join(ref.out, 'reference', 'masks.bin')));
      for (let k = 0; k < plans.heads.length; k++) {
        const got = (await readNiftiLabel(fileOf(k), { orientation: 'ras' })).volume.data;
        expect(got.length).toBe(n);
        for (let i = 0; i < n; i++) {
          if (got[i] !== want[k * n + i]) differ++;
          foreground += want[k * n + i];
        }
      }
    }
    expect(foreground).toBeGreaterThan(0);
    expect(differ).toBe(0);
  }, 300_000);
});

if (!HAS_TORCH) it.skip(`mtc import then mtc infer: ${TORCH_SKIP_REASON}`, () => {});
else if (!HAS_NIBABEL) it.skip(`mtc import then mtc infer: ${NIBABEL_SKIP_REASON}`, () => {});
