#!/usr/bin/env node
// The real-data pipeline check of docs/results.md, in one command:
//
//   node scripts/realct-spleen.mjs [--fixtures DIR] [--data DIR] [--runs DIR] [--out DIR]
//
// 1. links the real spleen CT and its manual label (../shared/fixtures/realct) into an nnU-Net
//    raw dataset, <data>/realct/Dataset950_RealSpleen (the scan twice, see experiments/realct_spleen.mt);
// 2. mtc run experiments/realct_spleen.mt: pre-trains the quickstart network on the synthetic
//    collection, fine-tunes it on the real scan, evaluates (Dice and its report);
// 3. mtc infer on the original scan (the fixture file itself), with --protocol, --statistics, --preview;
// 4. mtc eval of that prediction against the manual label.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? resolve(process.argv[i + 1]) : fallback;
};
const fixtures = arg('fixtures', [join(root, '..', 'shared', 'fixtures', 'realct'), join(root, '..', '..', 'shared', 'fixtures', 'realct')].find((d) => existsSync(d)));
if (!fixtures || !existsSync(join(fixtures, 'sub-spleen2_ct.nii.gz'))) {
  console.error('realct-spleen: the fixtures folder (../shared/fixtures/realct) was not found; pass --fixtures DIR');
  process.exit(1);
}
const data = arg('data', join(root, 'data'));
const runs = arg('runs', join(root, 'runs'));
const out = arg('out', join(root, 'runs', 'realct-spleen-predictions'));
const image = join(fixtures, 'sub-spleen2_ct.nii.gz');
const label = join(fixtures, 'sub-spleen2_ct_seg-manual.nii.gz');

const ds = join(data, 'realct', 'Dataset950_RealSpleen');
rmSync(ds, { recursive: true, force: true });
for (const d of ['imagesTr', 'labelsTr']) mkdirSync(join(ds, d), { recursive: true });
for (const id of ['spleen2a', 'spleen2b']) {
  symlinkSync(image, join(ds, 'imagesTr', `${id}_0000.nii.gz`));
  symlinkSync(label, join(ds, 'labelsTr', `${id}.nii.gz`));
}
writeFileSync(join(ds, 'dataset.json'), `${JSON.stringify({ name: 'RealSpleen', description: 'MSD Task09 spleen_2 (crop), linked twice', channel_names: { 0: 'CT' }, labels: { background: 0, spleen: 1 }, numTraining: 2, file_ending: '.nii.gz' }, null, 2)}\n`);
// one fold: train on one copy, validate on the other (the seeded 5-fold split needs 5 cases)
writeFileSync(join(ds, 'splits_final.json'), `${JSON.stringify([{ train: ['spleen2a'], val: ['spleen2b'] }], null, 2)}\n`);
// the reference for mtc eval, named like the prediction of the fixture file
const gt = join(out, 'reference');
rmSync(gt, { recursive: true, force: true });
mkdirSync(gt, { recursive: true });
symlinkSync(label, join(gt, 'sub-spleen2_ct.nii.gz'));

const mtc = (...args) => {
  console.log(`\n$ mtc ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [join(root, 'bin', 'mtc.js'), ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
mtc('run', 'experiments/realct_spleen.mt', '--data', data, '--runs', runs, '--no-tui', '--backend', 'cpu');
// the experiment's run folder, runs/realct_spleen/<run key>/ (the most recent when there are several)
const folders = join(runs, 'realct_spleen');
const runDir = readdirSync(folders)
  .map((d) => join(folders, d))
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
const pred = join(out, 'prediction');
mtc('infer', runDir, '-i', image, '-o', pred, '--protocol', 'real_spleen', '--statistics', '--preview', '--no-tui', '--backend', 'cpu');
mtc('eval', pred, gt, '--dataset', ds);
console.log(`\nrun folder ${runDir}; prediction ${pred}; report ${join(runDir, 'report.html')}`);
