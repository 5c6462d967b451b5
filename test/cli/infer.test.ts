import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../src/graph/types.js';
import { main } from '../../src/cli/main.js';
import { HAS_NIBABEL, NIBABEL_SKIP_REASON, runPython } from '../runtime/data/python.js';
import { ORGAN_HEADS, phantomCt, writeCt, writeModelDir } from '../runtime/infer/helpers.js';
import { REALCT_DIR, REALCT_SKIP_REASON } from '../realct.js';
import { captureIO } from './helpers.js';

const SHAPE: Vec3 = [10, 16, 14];
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtc-cli-infer-'));
  await writeModelDir(join(dir, 'model'), { spacing: [2, 2, 2] });
  await mkdir(join(dir, 'images'));
  await writeCt(join(dir, 'images', 'p1_0000.nii.gz'), phantomCt(SHAPE).image, SHAPE, [2, 2, 2]);
});

const run = async (...args: string[]) => {
  const io = captureIO(dir);
  const code = await main(args, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
};

describe('mtc infer / mtc export', () => {
  it('segments a folder with a checkpoint folder, then the same with its exported package', async () => {
    const a = await run('infer', 'model', '-i', 'images', '-o', 'out', '--no-tta', '--no-tui', '--backend', 'cpu', '--protocol', 'abdomen');
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/mtc infer: test \(.*model\)/);
    expect(a.out).toMatch(/\[infer:p1\] 10x16x14 voxels \(RAS\) -> cropped and resampled to 8x14x12 at 2x2x2 mm/);
    expect(a.out).toMatch(/mtc infer: done in/);
    expect((await readdir(join(dir, 'out'))).sort()).toEqual(['labels.json', 'p1', 'p1.nii.gz']);
    const e = await run('export', 'model', '-o', 'm.mtpkg');
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/mtc export: test \(2 classes, all cases\) -> .*m\.mtpkg \(\d/);
    const b = await run('infer', 'm.mtpkg', '-i', 'images/p1_0000.nii.gz', '-o', 'out2', '--no-tta', '--no-tui', '--backend', 'cpu');
    expect(b.code).toBe(0);
    for (const h of ORGAN_HEADS) {
      const x = await readFile(join(dir, 'out', 'p1', `${h.name}.nii.gz`));
      const y = await readFile(join(dir, 'out2', 'p1', `${h.name}.nii.gz`));
      expect(y.equals(x), h.name).toBe(true);
    }
  });

  it('bad arguments and inputs get one clear line, never a stack trace', async () => {
    const corrupt = join(dir, 'bad.mtpkg');
    const pkg = await readFile(join(dir, 'm.mtpkg')).catch(async () => {
      await run('export', 'model', '-o', 'm.mtpkg');
      return readFile(join(dir, 'm.mtpkg'));
    });
    pkg[pkg.length - 50] ^= 1;
    await writeFile(corrupt, pkg);
    const cases: [string[], RegExp][] = [
      [['infer', 'bad.mtpkg', '-i', 'images', '-o', 'o'], /bad\.mtpkg: is corrupt \(checksum mismatch\)/],
      [['infer', 'model', '-i', 'nothing', '-o', 'o'], /nothing: does not exist/],
      [['infer', 'model', '-i', 'images', '-o', 'o', '--memory', 'lots'], /--memory: 'lots' is not a size/],
      [['infer', 'model', '-i', 'images', '-o', 'o', '--memory', '1K', '--backend', 'cpu', '--no-tui'], /needs at least .* more than the memory budget of 1\.0 KiB/],
      [['infer', 'model', '-i', 'images', '-o', 'o', '--classes', 'liver'], /--classes: 'liver' is not a class of the model/],
      [['infer', 'model', '-i', 'images', '-o', 'o', '--folds', 'x'], /--folds: 'x' must be 'all' or fold numbers/],
      [['infer', 'nowhere', '-i', 'images', '-o', 'o'], /nowhere: does not exist/],
      [['export', 'images', '-o', 'x.mtpkg'], /images: holds no model/],
    ];
    for (const [args, re] of cases) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toMatch(re);
      expect(r.err).not.toMatch(/internal error|\n\s+at /);
    }
  });
});

describe.skipIf(!REALCT_DIR)(`mtc infer on the real upper-abdomen CT${REALCT_DIR ? '' : ` [SKIPPED: ${REALCT_SKIP_REASON}]`}`, () => {
  it('runs end to end (crop, resample, predict, export, statistics, preview)', async () => {
    await writeModelDir(join(dir, 'model4'), { spacing: [4, 4, 4], patch: [16, 16, 16] });
    const r = await run('infer', 'model4', '-i', join(REALCT_DIR!, 'example_ct_sm.nii.gz'), '-o', 'real', '--no-tta', '--no-tui', '--backend', 'cpu', '--statistics', '--preview', '--protocol', 'abdomen');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const f of ['organ.nii.gz', 'lesion.nii.gz', 'statistics.json', 'preview.png']) expect(existsSync(join(dir, 'real', 'example_ct_sm', f)), f).toBe(true);
    expect(existsSync(join(dir, 'real', 'example_ct_sm.nii.gz'))).toBe(true);
  });

  it.skipIf(!HAS_NIBABEL)(`nibabel reads every output with the input's affine and shape${HAS_NIBABEL ? '' : ` [SKIPPED: ${NIBABEL_SKIP_REASON}]`}`, async () => {
    const py = `
import sys, json, glob, nibabel as nib, numpy as np
img = nib.load(sys.argv[1])
out = {}
for f in sorted(glob.glob(sys.argv[2] + '/*.nii.gz')) + [sys.argv[3]]:
    s = nib.load(f); d = np.asarray(s.dataobj)
    out[f.split('/')[-1]] = [bool(np.allclose(s.affine, img.affine, atol=1e-4)), list(s.shape) == list(img.shape), str(s.get_data_dtype()), sorted(set(np.unique(d).tolist()) - {0, 1, 2})]
print(json.dumps(out))`;
    const r = JSON.parse(runPython(py, [join(REALCT_DIR!, 'example_ct_sm.nii.gz'), join(dir, 'real', 'example_ct_sm'), join(dir, 'real', 'example_ct_sm.nii.gz')])) as Record<string, unknown[]>;
    expect(Object.keys(r).sort()).toEqual(['example_ct_sm.nii.gz', 'lesion.nii.gz', 'organ.nii.gz']);
    for (const v of Object.values(r)) expect(v).toEqual([true, true, 'uint8', []]);
  });
});
