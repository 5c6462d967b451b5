import { existsSync, readlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { webgpuSkipReason } from '../runtime/webgpu/helpers.js';
import { captureIO, finalWeights, runFolder, tinyExperiment } from './helpers.js';

/** The quickstart's shape at toy size: two source datasets, one fine-tune target, a few iterations, nnU-Net's augmentation. */
const TINY = tinyExperiment({ pre: 'epochs 2  iterations 3  validation 2', ft: 'epochs 2  iterations 3  validation 2', headEpochs: 1, augmentation: true });

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
    runDir = await runFolder(join(dir, 'runs'), 'tiny_ft').catch(() => join(dir, 'runs', 'missing'));
  }, 240_000);

  it('synthesises the data, pre-trains, fine-tunes, evaluates and exits 0', () => {
    const text = io.stdout.join('\n');
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    expect(text).toContain("synthesising the 'quickstart' collection (seed 5)");
    for (const stage of ['prepare:liver', 'prepare:kidney', 'preprocess:tiny_pre', 'train:tiny_pre', 'preprocess:kidney@tiny_pre', 'finetune:tiny_ft', 'evaluate:tiny_ft', 'report:tiny_ft']) {
      expect(text).toContain(`[${stage}] done`);
    }
    expect(text).toMatch(/\[train:tiny_pre\] epoch 1 {2}loss \d\.\d{4} {2}lr [\d.e-]+ {2}pseudo-Dice \d\.\d{4} \(ema \d\.\d{4}/);
    expect(text).toMatch(/kidney_tumour\s+(\d\.\d{4}|n\/a)/);
    expect(text).toMatch(/mean Dice \(tiny_ft, \d classes\): /);
    expect(text).toContain("augmentation 'nnunet_augmentation': rotation, scaling, noise, blur, brightness, contrast, low_resolution, gamma_inverted, gamma, mirror");
    expect(text).not.toMatch(/not implemented/);
    expect(existsSync(join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney', 'dataset.json'))).toBe(true);
  });

  it('writes the run folder: resolved.mt, graph.yaml, lock.json, events, state, metrics, history and links to the stored checkpoints', async () => {
    expect(runDir).toMatch(/runs[/\\]tiny_ft[/\\][0-9a-f]{12}$/);
    expect(await readFile(join(runDir, 'graph.yaml'), 'utf8')).toContain('finetune:tiny_ft');
    const resolved = await readFile(join(runDir, 'resolved.mt'), 'utf8');
    expect(resolved).toContain('experiment tiny_ft {');
    expect(resolved.indexOf('experiment tiny_pre')).toBeLessThan(resolved.indexOf('experiment tiny_ft'));
    const metrics = JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8')) as {
      evaluations: { classes: { name: string; dice: number | null; perCase: Record<string, number | null> }[] }[];
      summaries: { groups: { name: string; dice: number | null; classes: number }[] }[];
      stageSeconds: Record<string, number>;
    };
    expect(metrics.summaries[0].groups.map((g) => g.name)).toEqual(['tag:cancer']);
    const classes = metrics.evaluations[0].classes;
    expect(classes.map((c) => c.name)).toEqual(['kidney', 'kidney_tumour']);
    expect(Object.keys(classes[0].perCase).length).toBe(4); // fold 0 of the 20 synthetic kidney cases validates on 4
    expect(Object.keys(metrics.stageSeconds)).toContain('train:tiny_pre');
    for (const slug of ['train-tiny_pre', 'finetune-tiny_ft']) {
      for (const kind of ['final', 'best']) {
        for (const f of ['model.json', 'weights.bin', 'optimizer.bin', 'training.json', 'plans.json']) expect(existsSync(join(runDir, 'stages', slug, 'checkpoints', kind, f)), `${slug} ${kind} ${f}`).toBe(true);
      }
      expect(existsSync(join(runDir, 'stages', slug, 'checkpoints', 'latest'))).toBe(false);
      expect(readlinkSync(join(runDir, 'stages', slug))).toMatch(/\.store/);
    }
    const history = (await readFile(join(runDir, 'history', 'finetune-tiny_ft.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; pseudoDice: Record<string, number | null>; ema: number });
    expect(history.map((h) => h.epoch)).toEqual([0, 1]);
    expect(Object.keys(history[0].pseudoDice)).toEqual(['kidney/kidney', 'kidney/kidney_tumour']);
    const lock = JSON.parse(await readFile(join(runDir, 'lock.json'), 'utf8')) as {
      package: { version: string }; tfjs: string; backend: string; seeds: Record<string, number>;
      inputs: Record<string, { files: Record<string, string> }>; stages: Record<string, { key: string; weights_sha256?: string }>;
    };
    expect(lock.tfjs).toBe('4.22.0');
    expect(lock.backend).toBe('cpu');
    expect(lock.seeds).toEqual({ 'train:tiny_pre': 3, 'finetune:tiny_ft': 3 });
    expect(Object.keys(lock.inputs)).toEqual(['liver', 'vessel', 'kidney']);
    expect(lock.inputs.kidney.files['dataset.json']).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(lock.inputs.kidney.files)).toContain('imagesTr/kidney_000_0000.nii.gz');
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(await readFile(finalWeights(runDir, 'finetune-tiny_ft'))).digest('hex');
    expect(lock.stages['finetune:tiny_ft'].weights_sha256).toBe(sha);
    const state = JSON.parse(await readFile(join(runDir, 'state.json'), 'utf8')) as { status: string; stages: Record<string, { status: string }> };
    expect(state.status).toBe('done');
    expect(Object.values(state.stages).every((s) => s.status === 'done')).toBe(true);
    const events = (await readFile(join(runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events[0].type).toBe('run-start');
    expect(events.at(-1)?.type).toBe('run-end');
    expect(events.some((e) => e.type === 'epoch')).toBe(true);
    const leftovers = (await readdir(join(dir, 'runs'), { recursive: true })).filter((f) => /\.tmp-|\.old-/.test(String(f)));
    expect(leftovers).toEqual([]);
  });

  it('writes plans.json and history.json next to every model and the HTML report; mtc infer and eval use the run', async () => {
    for (const slug of ['train-tiny_pre', 'finetune-tiny_ft']) {
      const ckpt = join(runDir, 'stages', slug, 'checkpoints', 'final');
      const plans = JSON.parse(await readFile(join(ckpt, 'plans.json'), 'utf8')) as {
        format: string;
        preprocessing: { spacing: number[]; normalization: { statistics: Record<string, { mean: number }> } };
        mirrorAxes: number[];
      };
      expect(plans.format).toBe('multitalent-plans');
      expect(plans.preprocessing.spacing).toEqual([8, 8, 8]);
      // the fine-tune is preprocessed with the pre-training's statistics (one collection), under its own dataset's name
      expect(Object.keys(plans.preprocessing.normalization.statistics)).toEqual(slug === 'train-tiny_pre' ? ['liver', 'vessel'] : ['kidney']);
      expect(plans.mirrorAxes).toEqual([0, 1, 2]);
      const history = JSON.parse(await readFile(join(ckpt, 'history.json'), 'utf8')) as { epochs: { epoch: number; lr: number; loss: number; pseudoDice: number | null }[] };
      expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1]);
      expect(history.epochs.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.lr) && e.pseudoDice !== undefined)).toBe(true);
    }
    const html = await readFile(join(runDir, 'report.html'), 'utf8');
    expect(html).toContain('finetune:tiny_ft: training loss');
    expect(existsSync(join(runDir, 'report.md'))).toBe(true);
    const images = join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney', 'imagesTr');
    const inf = captureIO(dir);
    expect(await main(['infer', runDir, '-i', join(images, 'kidney_000_0000.nii.gz'), '-o', 'pred', '--no-tta', '--no-tui', '--backend', 'cpu', '--protocol', 'kidney'], inf), inf.stderr.join('\n')).toBe(0);
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
    const second = await runFolder(join(dir, 'runs-again'), 'tiny_ft');
    expect(second.slice(-12)).toBe(runDir.slice(-12)); // the same resolved experiment gets the same run key
    for (const slug of ['train-tiny_pre', 'finetune-tiny_ft']) {
      const a = await readFile(finalWeights(runDir, slug));
      const b = await readFile(finalWeights(second, slug));
      expect(b.equals(a)).toBe(true);
    }
    const evals = async (d: string) => (JSON.parse(await readFile(join(d, 'metrics.json'), 'utf8')) as { evaluations: unknown }).evaluations;
    expect(await evals(second)).toEqual(await evals(runDir));
  }, 120_000);

  it.skipIf(webgpuSkipReason)('runs the same experiment on --backend webgpu with the cpu run\'s results', async () => {
    const gpu = captureIO(dir);
    expect(await main(['run', 'tiny.mt', '--no-tui', '--data', 'data', '--runs', 'runs-webgpu', '--backend', 'webgpu'], gpu)).toBe(0);
    expect(gpu.stdout.join('\n')).toMatch(/backend webgpu \+ WGSL kernels on /);
    const g = await runFolder(join(dir, 'runs-webgpu'), 'tiny_ft');
    for (const slug of ['train-tiny_pre', 'finetune-tiny_ft']) {
      const a = new Float32Array(new Uint8Array(await readFile(finalWeights(runDir, slug))).buffer);
      const b = new Float32Array(new Uint8Array(await readFile(finalWeights(g, slug))).buffer);
      expect(b.length).toBe(a.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
      // 12 SGD steps (momentum 0.99) from the same start, float32 sums in another order
      expect(worst, slug).toBeLessThan(1e-3);
    }
    const dice = async (d: string): Promise<(number | null)[]> =>
      (JSON.parse(await readFile(join(d, 'metrics.json'), 'utf8')) as { evaluations: { classes: { dice: number | null }[] }[] }).evaluations[0].classes.map((c) => c.dice);
    const [want, got] = [await dice(runDir), await dice(g)];
    got.forEach((d, i) => (d === null ? expect(want[i]).toBeNull() : expect(Math.abs(d - (want[i] ?? Number.NaN))).toBeLessThan(0.02)));
  }, 600_000);

  it('trains a resenc_unet experiment end to end (blocks from the source reach the runtime)', async () => {
    const src = TINY.replace('architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }', 'architecture tiny { kind resenc_unet  patch [16, 16, 16]  features [4, 8]  blocks [1, 2]  deep_supervision false }');
    expect(src).not.toBe(TINY);
    await writeFile(join(dir, 'resenc.mt'), src);
    const io5 = captureIO(dir);
    expect(await main(['run', 'resenc.mt', '--no-tui', '--data', 'data', '--runs', 'runs-resenc', '--backend', 'cpu'], io5)).toBe(0);
    const r = await runFolder(join(dir, 'runs-resenc'), 'tiny_ft');
    const manifest = JSON.parse(await readFile(join(r, 'stages', 'finetune-tiny_ft', 'checkpoints', 'final', 'model.json'), 'utf8')) as {
      architecture: { kind: string; blocksPerStage: number[]; convsPerStage: number };
      weights: { name: string }[];
    };
    expect(manifest.architecture).toMatchObject({ kind: 'resenc_unet', blocksPerStage: [1, 2], convsPerStage: 1 });
    expect(manifest.weights.map((w) => w.name)).toContain('enc1.block1.conv2.weight');
    expect(io5.stdout.join('\n')).toMatch(/mean Dice \(tiny_ft, \d classes\): /);
    // The data stages are shared with the unet run: only the trainings and what follows them ran again... in another store.
    expect(io5.stdout.join('\n')).toContain('[train:tiny_pre] done');
  }, 240_000);

  it('refuses data that is absent and not synthetic before anything is written, naming the folder and the layout', async () => {
    const src = TINY.replace(/\n\s*synthetic quickstart seed 5/g, '');
    await writeFile(join(dir, 'nodata.mt'), src);
    const io2 = captureIO(dir);
    const code2 = await main(['run', 'nodata.mt', '--no-tui', '--data', 'elsewhere', '--runs', 'runs2'], io2);
    expect(code2).toBe(1);
    const err = io2.stderr.join('\n');
    expect(err).toContain('3 dataset folder(s) not found');
    expect(err).toContain(join(dir, 'elsewhere', 'quickstart', 'Dataset901_SynthLiver'));
    expect(err).toContain('imagesTr/CASE_0000.nii.gz');
    expect(existsSync(join(dir, 'runs2'))).toBe(false);
  });

  it('refuses missing data before running anything, and has nothing else to refuse in md_swin (SwinUNETR trains)', async () => {
    const io4 = captureIO();
    const code4 = await main(['run', 'experiments/multitalent_md.mt', '-e', 'md_swin', '--no-tui', '--data', join(dir, 'no-data'), '--runs', join(dir, 'runs4')], io4);
    expect(code4).toBe(1);
    const err = io4.stderr.join('\n');
    expect(err).not.toContain('cannot execute');
    expect(err).toContain(`folder ${join(dir, 'no-data')}`);
    expect(err).toContain('imagesTr/CASE_0000.nii.gz');
    expect(existsSync(join(dir, 'runs4'))).toBe(false);
  });

  it('--dry-run shows what would run and what is cached, with the key parameters, and writes nothing', async () => {
    const io3 = captureIO(dir);
    expect(await main(['run', 'tiny.mt', '--dry-run', '--data', 'data', '--runs', 'runs', '--set', 'tiny_ft.seed=9'], io3)).toBe(0);
    const text = io3.stdout.join('\n');
    expect(text).toMatch(/cached +train:tiny_pre {2}\(key [0-9a-f]{12}\)/);
    expect(text).toMatch(/ run +finetune:tiny_ft {2}\(key [0-9a-f]{12}\)/);
    expect(text).toContain('2 epochs x 3 iterations (heads 1 + all 1), sgd, batch 2, seed 9');
    expect(text).toContain('fold 0 of 5; validation 2 batches per epoch');
    expect(text).toContain('sampling inverse_sqrt (foreground 0.33): liver 50.0%, vessel 50.0%');
    expect(text).toContain('patch [16, 16, 16] at [8, 8, 8] mm');
    expect(text).toMatch(/3 stage\(s\) would run, 6 cached/);
    expect((await readdir(join(dir, 'runs', 'tiny_ft'))).length).toBe(1);
  });

  it('--dry-run of a chain shows every fold, the key parameters, and exits 1 when the data is missing', async () => {
    const io6 = captureIO(dir);
    expect(await main(['run', join(process.cwd(), 'experiments', 'kits_finetune.mt'), '--dry-run', '--data', 'elsewhere', '--runs', 'runs6'], io6)).toBe(1);
    const text = io6.stdout.join('\n');
    expect(text).toMatch(/run +finetune:kits_finetune\/fold4/);
    expect(text).toContain('1000 epochs x 250 iterations (heads 10 + all 50 + all 940), sgd, batch 2');
    expect(text).toContain('13 dataset folder(s) not found');
    expect(io6.stderr.join('\n')).toContain('mtc run would stop before training');
    expect(existsSync(join(dir, 'runs6'))).toBe(false);
  });

  it('--dry-run of md_swin and a swin baseline prints no cannot-execute note', async () => {
    for (const [file, exp, plan] of [['multitalent_md.mt', 'md_swin', "plan for experiment 'md_swin'"], ['baselines.mt', 'baselines_swin_kits19*', 'plan for 5 experiments']]) {
      const io7 = captureIO(dir);
      await main(['run', join(process.cwd(), 'experiments', file), '-e', exp, '--dry-run', '--data', 'elsewhere', '--runs', 'runs7'], io7);
      const text = io7.stdout.join('\n');
      expect(text, exp).toContain(plan);
      expect(text, exp).toMatch(/swin_unetr 'multitalent_swin', patch \[96, 192, 192\]/);
      expect(text, exp).not.toContain('cannot execute');
    }
    expect(existsSync(join(dir, 'runs7'))).toBe(false);
  });

  it("--dry-run checks the inputs: a class whose label the dataset.json does not declare exits 1", async () => {
    await writeFile(join(dir, 'badlabel.mt'), TINY.replace('aorta [1]', 'aorta [9]'));
    const io8 = captureIO(dir);
    expect(await main(['run', 'badlabel.mt', '--dry-run', '--data', 'data', '--runs', 'runs8'], io8)).toBe(1);
    const text = io8.stdout.join('\n');
    expect(text).toContain("note: the run's inputs do not fit the experiment:");
    expect(text).toContain("dataset 'vessel': class 'aorta' uses label 9");
    expect(existsSync(join(dir, 'runs8'))).toBe(false);
  });

  it('--dry-run exits 1 when data folders are missing, and says which', async () => {
    const io3 = captureIO(dir);
    expect(await main(['run', 'nodata.mt', '--dry-run', '--data', 'elsewhere', '--runs', 'runs3'], io3)).toBe(1);
    expect(io3.stdout.join('\n')).toContain('3 dataset folder(s) not found');
    expect(io3.stdout.join('\n')).toContain('the dataset folder is missing');
    expect(existsSync(join(dir, 'runs3'))).toBe(false);
  });
});
