import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { webgpuSkipReason } from '../runtime/webgpu/helpers.js';
import { captureIO } from './helpers.js';

/** The quickstart's shape at toy size: two source datasets, one fine-tune target, a few iterations, nnU-Net's augmentation. */
const TINY = `
import "std/augmentation"
dataset liver {
  root "quickstart/Dataset901_SynthLiver"
  synthetic quickstart seed 5
  classes { liver [1, 2]  liver_tumour [2] }
}
dataset vessel {
  root "quickstart/Dataset904_SynthVessel"
  synthetic quickstart seed 5
  classes { aorta [1]  spleen [2] }
}
dataset kidney {
  root "quickstart/Dataset905_SynthKidney"
  synthetic quickstart seed 5
  classes { kidney [1, 2]  kidney_tumour [2] tags [cancer] }
}
architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }
schedule pre { lr poly(0.01, 0.9)  epochs 2  iterations 3 }
schedule ft {
  epochs 2  iterations 3
  phase heads { epochs 1     lr linear(0, 0.01) }
  phase all   { epochs rest  lr poly(0.01, 0.9) }
}
experiment tiny_pre { datasets [liver, vessel]  architecture tiny  schedule pre  spacing [8, 8, 8]  seed 3  augmentation nnunet_augmentation }
experiment tiny_ft  { pretrained tiny_pre  datasets [kidney]  schedule ft  seed 3  augmentation nnunet_augmentation }
`;

describe('mtc run (tiny end to end)', () => {
  let dir = '';
  let code = -1;
  let io = captureIO();
  let runDir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtc-run-'));
    await writeFile(join(dir, 'tiny.mt'), TINY);
    io = captureIO(dir);
    code = await main(['run', 'tiny.mt', '--no-tui', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], io);
    const runs = existsSync(join(dir, 'runs')) ? await readdir(join(dir, 'runs')) : [];
    runDir = join(dir, 'runs', runs[0] ?? 'missing');
  }, 240_000);

  it('synthesises the data, pre-trains, fine-tunes, evaluates and exits 0', () => {
    const text = io.stdout.join('\n');
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    expect(text).toContain("synthesising the 'quickstart' collection (seed 5)");
    for (const stage of ['prepare', 'preprocess', 'train:tiny_pre', 'finetune:tiny_ft', 'evaluate:tiny_ft', 'report']) {
      expect(text).toContain(`[${stage}] done`);
    }
    expect(text).toMatch(/kidney_tumour\s+(\d\.\d{4}|n\/a)/);
    expect(text).toMatch(/mean Dice \(tiny_ft, \d classes\): /);
    expect(text).toContain("augmentation 'nnunet_augmentation': rotation, scaling, noise, blur, brightness, contrast, low_resolution, gamma_inverted, gamma, mirror");
    expect(text).not.toMatch(/not implemented/);
    expect(existsSync(join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney', 'dataset.json'))).toBe(true);
  });

  it('leaves the resolved spec, the source, metrics and checkpoints in the run folder', async () => {
    expect(runDir).toMatch(/tiny_ft-\d{8}-\d{6}$/);
    expect(await readFile(join(runDir, 'graph.yaml'), 'utf8')).toContain('finetune:tiny_ft');
    expect(await readFile(join(runDir, 'spec', 'tiny.mt'), 'utf8')).toBe(TINY);
    const metrics = JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8')) as {
      evaluations: { classes: { name: string; dice: number | null; perCase: Record<string, number | null> }[] }[];
      summaries: { groups: { name: string; dice: number | null; classes: number }[] }[];
    };
    expect(metrics.summaries[0].groups.map((g) => g.name)).toEqual(['tag:cancer']);
    const classes = metrics.evaluations[0].classes;
    expect(classes.map((c) => c.name)).toEqual(['kidney', 'kidney_tumour']);
    expect(Object.keys(classes[0].perCase).length).toBe(4); // 20 % of the 20 synthetic kidney cases held out
    for (const exp of ['tiny_pre', 'tiny_ft']) {
      expect(existsSync(join(runDir, 'checkpoints', exp, 'model.json'))).toBe(true);
      expect(existsSync(join(runDir, 'checkpoints', exp, 'weights.bin'))).toBe(true);
    }
    const leftovers = (await readdir(runDir, { recursive: true })).filter((f) => /\.tmp/.test(String(f)));
    expect(leftovers).toEqual([]);
  });

  it('writes plans.json and history.json next to every model and the HTML report; mtc infer and eval use the run', async () => {
    for (const exp of ['tiny_pre', 'tiny_ft']) {
      const plans = JSON.parse(await readFile(join(runDir, 'checkpoints', exp, 'plans.json'), 'utf8')) as {
        preprocessing: { spacing: number[]; normalization: { statistics: Record<string, { mean: number }> } };
        heads: { name: string }[];
      };
      expect(plans.preprocessing.spacing).toEqual([8, 8, 8]);
      expect(Object.keys(plans.preprocessing.normalization.statistics)).toEqual(exp === 'tiny_pre' ? ['liver', 'vessel'] : ['kidney']);
      const history = JSON.parse(await readFile(join(runDir, 'checkpoints', exp, 'history.json'), 'utf8')) as { epochs: { epoch: number; lr: number; loss: number }[] };
      expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1]);
      expect(history.epochs.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.lr))).toBe(true);
    }
    const html = await readFile(join(runDir, 'report.html'), 'utf8');
    expect(html).toContain('finetune:tiny_ft: training loss');
    expect(existsSync(join(runDir, 'report.md'))).toBe(true);
    const images = join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney', 'imagesTr');
    const inf = captureIO(dir);
    expect(await main(['infer', runDir, '-i', join(images, 'kidney_000_0000.nii.gz'), '-o', 'pred', '--no-tta', '--no-tui', '--backend', 'cpu', '--protocol', 'kidney'], inf)).toBe(0);
    expect(existsSync(join(dir, 'pred', 'kidney_000', 'kidney_tumour.nii.gz'))).toBe(true);
    await mkdir(join(dir, 'gt'), { recursive: true });
    await copyFile(join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney', 'labelsTr', 'kidney_000.nii.gz'), join(dir, 'gt', 'kidney_000.nii.gz'));
    const ev = captureIO(dir);
    expect(await main(['eval', 'pred', 'gt', '--dataset', join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney'), '--json'], ev)).toBe(0);
    const j = JSON.parse(ev.stdout.join('')) as { cases: { case: string }[] };
    expect(j.cases.map((c) => c.case)).toEqual(['kidney_000', 'kidney_000']);
  });

  it('is reproducible: the same file and data give bit-identical weights and metrics', async () => {
    const again = captureIO(dir);
    expect(await main(['run', 'tiny.mt', '--no-tui', '--data', 'data', '--runs', 'runs-again', '--backend', 'cpu'], again)).toBe(0);
    const [second] = await readdir(join(dir, 'runs-again'));
    for (const exp of ['tiny_pre', 'tiny_ft']) {
      const a = await readFile(join(runDir, 'checkpoints', exp, 'weights.bin'));
      const b = await readFile(join(dir, 'runs-again', second, 'checkpoints', exp, 'weights.bin'));
      expect(b.equals(a)).toBe(true);
    }
    const evals = async (d: string) => (JSON.parse(await readFile(join(d, 'metrics.json'), 'utf8')) as { evaluations: unknown }).evaluations;
    expect(await evals(join(dir, 'runs-again', second))).toEqual(await evals(runDir));
  }, 120_000);

  it.skipIf(webgpuSkipReason)('runs the same experiment on --backend webgpu with the cpu run\'s results', async () => {
    const gpu = captureIO(dir);
    expect(await main(['run', 'tiny.mt', '--no-tui', '--data', 'data', '--runs', 'runs-webgpu', '--backend', 'webgpu'], gpu)).toBe(0);
    expect(gpu.stdout.join('\n')).toMatch(/backend webgpu \+ WGSL kernels on /);
    const [g] = await readdir(join(dir, 'runs-webgpu'));
    for (const exp of ['tiny_pre', 'tiny_ft']) {
      const a = new Float32Array(new Uint8Array(await readFile(join(runDir, 'checkpoints', exp, 'weights.bin'))).buffer);
      const b = new Float32Array(new Uint8Array(await readFile(join(dir, 'runs-webgpu', g, 'checkpoints', exp, 'weights.bin'))).buffer);
      expect(b.length).toBe(a.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
      // 12 SGD steps (momentum 0.99) from the same start, float32 sums in another order
      expect(worst, exp).toBeLessThan(1e-3);
    }
    const dice = async (d: string): Promise<(number | null)[]> =>
      (JSON.parse(await readFile(join(d, 'metrics.json'), 'utf8')) as { evaluations: { classes: { dice: number | null }[] }[] }).evaluations[0].classes.map((c) => c.dice);
    const [want, got] = [await dice(runDir), await dice(join(dir, 'runs-webgpu', g))];
    got.forEach((d, i) => (d === null ? expect(want[i]).toBeNull() : expect(Math.abs(d - (want[i] ?? Number.NaN))).toBeLessThan(0.02)));
  }, 600_000);

  it('trains a resenc_unet experiment end to end (blocks from the source reach the runtime)', async () => {
    const src = TINY.replace('architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }', 'architecture tiny { kind resenc_unet  patch [16, 16, 16]  features [4, 8]  blocks [1, 2]  deep_supervision false }');
    expect(src).not.toBe(TINY);
    await writeFile(join(dir, 'resenc.mt'), src);
    const io5 = captureIO(dir);
    expect(await main(['run', 'resenc.mt', '--no-tui', '--data', 'data', '--runs', 'runs-resenc', '--backend', 'cpu'], io5)).toBe(0);
    const [r] = await readdir(join(dir, 'runs-resenc'));
    const manifest = JSON.parse(await readFile(join(dir, 'runs-resenc', r, 'checkpoints', 'tiny_ft', 'model.json'), 'utf8')) as {
      architecture: { kind: string; blocksPerStage: number[]; convsPerStage: number };
      weights: { name: string }[];
    };
    expect(manifest.architecture).toMatchObject({ kind: 'resenc_unet', blocksPerStage: [1, 2], convsPerStage: 1 });
    expect(manifest.weights.map((w) => w.name)).toContain('enc1.block1.conv2.weight');
    expect(io5.stdout.join('\n')).toMatch(/mean Dice \(tiny_ft, \d classes\): /);
  }, 240_000);

  it('names the missing folder and the expected layout when data is absent and not synthetic', async () => {
    const src = TINY.replace(/\n\s*synthetic quickstart seed 5/g, '');
    await writeFile(join(dir, 'nodata.mt'), src);
    const io2 = captureIO(dir);
    const code2 = await main(['run', 'nodata.mt', '--no-tui', '--data', 'elsewhere', '--runs', 'runs2'], io2);
    expect(code2).toBe(1);
    const out = io2.stdout.join('\n') + io2.stderr.join('\n');
    expect(out).toContain(join(dir, 'elsewhere', 'quickstart', 'Dataset901_SynthLiver'));
    expect(out).toContain('imagesTr/CASE_0000.nii.gz');
    expect(out).toContain('[train:tiny_pre] skipped');
  });

  it('refuses what the runtime cannot execute yet before running anything, and names missing data too', async () => {
    const io4 = captureIO();
    const code4 = await main(['run', 'experiments/multitalent_md.mt', '-e', 'md_swin', '--no-tui', '--data', join(dir, 'no-data'), '--runs', join(dir, 'runs4')], io4);
    expect(code4).toBe(1);
    const err = io4.stderr.join('\n');
    expect(err).toContain('cannot execute yet');
    expect(err).toContain("architecture 'multitalent_swin' is a swin_unetr");
    expect(err).toContain(`folder ${join(dir, 'no-data')}`);
    expect(err).toContain('imagesTr/CASE_0000.nii.gz');
    expect(existsSync(join(dir, 'runs4'))).toBe(false);
  });

  it('--dry-run prints the plan without running anything', async () => {
    const io3 = captureIO(dir);
    expect(await main(['run', 'tiny.mt', '--dry-run', '--runs', 'runs3'], io3)).toBe(0);
    expect(io3.stdout.join('\n')).toContain('finetune:tiny_ft');
    expect(existsSync(join(dir, 'runs3'))).toBe(false);
  });
});
