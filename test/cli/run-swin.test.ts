// A small SwinUNETR experiment end to end on the cpu backend: AdamW (the stdlib schedule's
// optimiser), a mean Dice, checkpoints, a resumed (extended) training from the final checkpoint, and
// `mtc infer` with the trained network.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIO, runFolder } from './helpers.js';

const SWIN = (epochs: number) => `
dataset kidney {
  root "quickstart/Dataset905_SynthKidney"
  synthetic quickstart seed 5
  classes { kidney [1, 2]  kidney_tumour [2] }
}
architecture swin { kind swin_unetr  patch [32, 32, 32]  feature_size 12  deep_supervision false }
schedule s {
  optimizer  adamw(beta1: 0.9, beta2: 0.999, weight_decay: 0.01)
  lr         poly(5e-4, 0.9)
  epochs ${epochs}  iterations 2  validation 1
}
experiment tiny_swin { datasets [kidney]  architecture swin  schedule s  spacing [8, 8, 8]  seed 3  batch 1  evaluation { tta false } }
`;

describe('mtc run: a SwinUNETR experiment', () => {
  let dir = '';
  let code = -1;
  let io = captureIO();
  let first = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtc-swin-'));
    await writeFile(join(dir, 'swin.mt'), SWIN(1));
    io = captureIO(dir);
    code = await main(['run', 'swin.mt', '--no-tui', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], io);
  }, 300_000);

  it('trains with AdamW, checkpoints, evaluates and prints a mean Dice', async () => {
    const text = io.stdout.join('\n');
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    expect(text).toContain('[train:tiny_swin] done');
    expect(text).toMatch(/mean Dice \(tiny_swin, 2 classes\): /);
    expect(text).not.toMatch(/cannot execute|not implemented/);
    const run = await runFolder(join(dir, 'runs'), 'tiny_swin');
    first = run;
    const manifest = JSON.parse(await readFile(join(run, 'stages', 'train-tiny_swin', 'checkpoints', 'final', 'model.json'), 'utf8')) as {
      architecture: { kind: string; swin: { featureSize: number } };
      weights: { name: string }[];
    };
    expect(manifest.architecture).toMatchObject({ kind: 'swin_unetr', swin: { featureSize: 12 } });
    expect(manifest.weights.map((w) => w.name)).toContain('vit.layer3.merge.reduction.weight');
    expect(existsSync(join(run, 'stages', 'train-tiny_swin', 'checkpoints', 'final', 'optimizer.bin'))).toBe(true);
  });

  it('continues the finished training from its final checkpoint when its epochs are raised, and infers', async () => {
    await writeFile(join(dir, 'swin.mt'), SWIN(2));
    const io2 = captureIO(dir);
    expect(await main(['run', 'swin.mt', '--no-tui', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], io2), io2.stderr.join('\n')).toBe(0);
    expect(io2.stdout.join('\n')).toMatch(/\[train:tiny_swin\] extending the finished train:tiny_swin \(1 epochs, key [0-9a-f]{12}\) to 2 epochs from its final checkpoint/);
    const folders = await readdir(join(dir, 'runs', 'tiny_swin'));
    expect(folders.length).toBe(2); // the longer training has another key, so another run folder
    const run = join(dir, 'runs', 'tiny_swin', folders.find((f) => join(dir, 'runs', 'tiny_swin', f) !== first)!);
    const images = join(dir, 'data', 'quickstart', 'Dataset905_SynthKidney', 'imagesTr');
    const inf = captureIO(dir);
    expect(await main(['infer', run, '-i', join(images, 'kidney_000_0000.nii.gz'), '-o', 'pred', '--no-tta', '--no-tui', '--backend', 'cpu'], inf), inf.stderr.join('\n')).toBe(0);
    expect(existsSync(join(dir, 'pred', 'kidney_000', 'kidney_tumour.nii.gz'))).toBe(true);
  }, 300_000);
});
