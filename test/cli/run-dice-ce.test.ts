// Acceptance (issue #9 section 2): a dice_ce per-dataset baseline trains end to end with `mtc run` on
// the synthetic data and prints a mean Dice; on webgpu it gives the cpu's result. Also the bad input
// the CLI refuses before anything is written (issue #9 section 6).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { webgpuSkipReason } from '../runtime/webgpu/helpers.js';
import { captureIO, finalWeights, runFolder } from './helpers.js';

/** Two per-dataset nnU-Net baselines: one with single labels (softmax), one with a region class (sigmoid). */
const BASELINES = `
dataset abdomen {
  root "quickstart/Dataset903_SynthAbdomen"
  synthetic quickstart seed 5
  classes { liver [1]  spleen [2]  aorta [3] }
}
dataset kidney {
  root "quickstart/Dataset905_SynthKidney"
  synthetic quickstart seed 5
  classes { kidney [1, 2]  kidney_tumour [2] tags [cancer] }
}
architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision true }
schedule short { lr poly(0.01, 0.9)  epochs 2  iterations 3 }
experiment baseline_kidney { datasets [kidney]  architecture tiny  schedule short  loss dice_ce(batch_dice: false)  spacing [8, 8, 8]  seed 3 }
experiment baseline_abdomen { datasets [abdomen]  architecture tiny  schedule short  loss dice_ce  spacing [8, 8, 8]  seed 3 }
`;

interface Metrics {
  evaluations: { classes: { name: string; dice: number | null }[]; meanDice: number | null }[];
}

describe('mtc run: dice_ce per-dataset baselines', () => {
  let dir = '';
  let code = -1;
  let io = captureIO();
  let runDir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtc-dicece-'));
    await writeFile(join(dir, 'baselines.mt'), BASELINES);
    io = captureIO(dir);
    code = await main(['run', 'baselines.mt', '--no-tui', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], io);
    runDir = await runFolder(join(dir, 'runs'), 'baseline_abdomen').catch(() => join(dir, 'runs', 'missing'));
  }, 300_000);

  it('softmax over background + 3 labels: trains, evaluates by argmax and prints a mean Dice', async () => {
    const text = io.stdout.join('\n');
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    expect(text).not.toMatch(/not implemented|cannot execute/);
    expect(text).toContain('4 softmax outputs (labels 0, 1, 2, 3; background first)');
    expect(text).toContain("dice_ce: nnU-Net's softmax cross-entropy + soft batch Dice of the 3 foreground labels");
    expect(text).toMatch(/mean Dice \(baseline_abdomen, 3 classes\): \d\.\d{4}/);
    const manifest = JSON.parse(await readFile(join(runDir, 'stages', 'train-baseline_abdomen', 'checkpoints', 'final', 'model.json'), 'utf8')) as {
      heads: { name: string }[];
      output: { activation: string; labels: number[]; classes: { name: string }[] };
    };
    expect(manifest.heads.map((h) => h.name)).toEqual(['background', 'liver', 'spleen', 'aorta']);
    expect(manifest.output).toMatchObject({ activation: 'softmax', labels: [0, 1, 2, 3] });
    expect(manifest.output.classes.map((c) => c.name)).toEqual(['liver', 'spleen', 'aorta']);
    const metrics = JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8')) as Metrics;
    expect(metrics.evaluations[0].classes.map((c) => c.name)).toEqual(['liver', 'spleen', 'aorta']);
    expect(metrics.evaluations[0].meanDice).not.toBeNull();
  });

  it('a dataset with a region class trains region-based (sigmoid per class), with per-case Dice', async () => {
    const io2 = captureIO(dir);
    expect(await main(['run', 'baselines.mt', '-e', 'baseline_kidney', '--no-tui', '--data', 'data', '--runs', 'runs-kidney', '--backend', 'cpu'], io2)).toBe(0);
    const text = io2.stdout.join('\n');
    expect(text).toContain('2 sigmoid outputs');
    expect(text).toContain("dice_ce: nnU-Net's region-based sigmoid BCE + soft per-case Dice");
    expect(text).toMatch(/mean Dice \(baseline_kidney, 2 classes\): /);
  }, 240_000);

  it.skipIf(webgpuSkipReason)("on --backend webgpu gives the cpu run's weights and Dice", async () => {
    const gpu = captureIO(dir);
    expect(await main(['run', 'baselines.mt', '--no-tui', '--data', 'data', '--runs', 'runs-webgpu', '--backend', 'webgpu'], gpu)).toBe(0);
    const g = await runFolder(join(dir, 'runs-webgpu'), 'baseline_abdomen');
    const read = async (d: string) => new Float32Array(new Uint8Array(await readFile(finalWeights(d, 'train-baseline_abdomen'))).buffer);
    const [a, b] = [await read(runDir), await read(g)];
    expect(b.length).toBe(a.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
    expect(worst).toBeLessThan(1e-3); // 6 SGD steps (momentum 0.99) from the same start, float32 sums in another order
    const dice = async (d: string) => (JSON.parse(await readFile(join(d, 'metrics.json'), 'utf8')) as Metrics).evaluations[0].classes.map((c) => c.dice);
    const [want, got] = [await dice(runDir), await dice(g)];
    got.forEach((d, i) => (d === null ? expect(want[i]).toBeNull() : expect(Math.abs(d - (want[i] ?? Number.NaN))).toBeLessThan(0.02)));
  }, 600_000);

  it('refuses a class whose label the dataset.json does not declare, before anything is written', async () => {
    await writeFile(join(dir, 'badclass.mt'), BASELINES.replace('aorta [3] }', 'aorta [3]  portal_vein [9] }'));
    const bad = captureIO(dir);
    expect(await main(['run', 'badclass.mt', '--no-tui', '--data', 'data', '--runs', 'runs-bad'], bad)).toBe(1);
    const err = bad.stderr.join('\n');
    expect(err).toContain("dataset 'abdomen': class 'portal_vein' uses label 9, which");
    expect(err).toContain(join(dir, 'data', 'quickstart', 'Dataset903_SynthAbdomen', 'dataset.json'));
    expect(err).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'runs-bad'))).toBe(false);
  });

  it('refuses a patch that does not fit the network (from --set too), before anything is written', async () => {
    const bad = captureIO(dir);
    expect(await main(['run', 'baselines.mt', '--no-tui', '--set', 'tiny.patch=[16, 15, 16]', '--data', 'data', '--runs', 'runs-patch'], bad)).toBe(1);
    const err = bad.stderr.join('\n');
    expect(err).toContain('MT0305');
    expect(err).toContain('patch size 15 on axis y is not divisible by the total stride 2');
    expect(existsSync(join(dir, 'runs-patch'))).toBe(false);
  });

  it('refuses a pretrained checkpoint whose backbone does not match, before anything is written', async () => {
    // The softmax baseline's checkpoint (features 4/8) as the start of a network with features 4/16.
    const ckpt = join(runDir, 'stages', 'train-baseline_abdomen', 'checkpoints', 'final', 'model.json');
    const src = `${BASELINES}
architecture wider { kind unet  patch [16, 16, 16]  features [4, 16]  deep_supervision true }
experiment from_file { pretrained "${ckpt}"  datasets [kidney]  architecture wider  schedule short  spacing [8, 8, 8] }
`;
    await writeFile(join(dir, 'fromfile.mt'), src);
    const bad = captureIO(dir);
    expect(await main(['run', 'fromfile.mt', '--no-tui', '--data', 'data', '--runs', 'runs-ckpt'], bad)).toBe(1);
    const err = bad.stderr.join('\n');
    expect(err).toContain(`the backbone in the pretrained checkpoint ${ckpt} does not match the architecture of experiment 'from_file'`);
    expect(err).toMatch(/is \[3, 3, 3, 4, 8\], the network needs \[3, 3, 3, 4, 16\]/);
    expect(existsSync(join(dir, 'runs-ckpt'))).toBe(false);

    // With the checkpoint's own architecture it starts from it and trains.
    await writeFile(join(dir, 'fromfile-ok.mt'), src.replace('architecture wider  schedule', 'architecture tiny  schedule'));
    const ok = captureIO(dir);
    expect(await main(['run', 'fromfile-ok.mt', '--no-tui', '--data', 'data', '--runs', 'runs-ckpt-ok', '--backend', 'cpu'], ok)).toBe(0);
    expect(ok.stdout.join('\n')).toMatch(/initialised \d+ backbone tensors from /);
  }, 240_000);
});
