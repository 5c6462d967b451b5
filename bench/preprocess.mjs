#!/usr/bin/env node
// Preprocessing throughput (voxels/s of the raw volume) and peak memory, multitalent vs nnU-Net's own
// libraries (bench/preprocess_reference.py: nibabel + numpy + scipy + scikit-image) on this machine.
//
// Work per case, identical on both sides: read image and label, crop to nonzero, CT statistics from
// sampled foreground, clip + z-score, resample image (cubic, order 3) and label (one-hot linear) to
// 1.5 x 1 x 1 mm [z, y, x] with nnU-Net's separate-z rule.
//
//   npx tsc -p tsconfig.build.json --outDir /tmp/mtb && ln -sfn "$PWD/node_modules" /tmp/mtb/node_modules
//   MTC_DIST=/tmp/mtb node bench/preprocess.mjs [--repeat 3] [--skip-python] [--big]
// (or `npm run build` and leave MTC_DIST unset to use dist/). Each measurement runs in a fresh child
// process so that its peak RSS is its own. --big adds the 512x512x400 memory check.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const dist = resolve(process.env.MTC_DIST ?? join(root, 'dist'));
const PY = '/usr/bin/python3';
const REF = join(here, 'preprocess_reference.py');
const TARGET = [1.5, 1, 1];
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

async function one(image, label, repeat) {
  const d = await import(join(dist, 'runtime/data/nifti/index.js'));
  const crop = await import(join(dist, 'runtime/data/preprocess/crop.js'));
  const norm = await import(join(dist, 'runtime/data/preprocess/normalize.js'));
  const rs = await import(join(dist, 'runtime/data/preprocess/resample.js'));
  const { makeRng } = await import(join(dist, 'runtime/rng.js'));
  const times = [];
  let voxels = 0;
  let outShape = null;
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    const [img, lab] = await Promise.all([d.readNifti(image, { orientation: 'ras' }), d.readNiftiLabel(label, { orientation: 'ras' })]);
    voxels = img.volume.data.length;
    const box = crop.nonzeroBoundingBox(img.volume.data, img.volume.shape);
    const shape = crop.boxShape(box);
    const ci = crop.cropToBox(img.volume.data, img.volume.shape, box);
    const cl = crop.cropToBox(lab.volume.data, lab.volume.shape, box);
    const spacing = img.volume.spacing;
    const stats = norm.ctStats([norm.sampleForeground(ci, cl, 10000, makeRng(1234, 'bench'))]);
    norm.applyCtNormalization(ci, stats);
    const plan = rs.planResampling(shape, spacing, TARGET);
    const oi = rs.resampleImage(ci, shape, plan.newShape, 3, { separateAxis: plan.separateAxis });
    const ol = rs.resampleLabel(cl, shape, plan.newShape, { separateAxis: plan.separateAxis });
    outShape = plan.newShape;
    times.push((performance.now() - t0) / 1000);
    if (oi.length !== ol.length) throw new Error('shape mismatch');
  }
  const med = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
  return { voxels, outShape, seconds: times, median_s: med, voxels_per_s: voxels / med, peak_rss_mb: process.resourceUsage().maxRSS / 1024 };
}

function child(argv) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=8192', fileURLToPath(import.meta.url), ...argv], { encoding: 'utf8', env: process.env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function python(argv, json = true) {
  const r = spawnSync(PY, [REF, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return json ? JSON.parse(r.stdout.trim().split('\n').pop()) : null;
}

function synth(dir, name, shape, spacing) {
  const image = join(dir, `${name}_0000.nii.gz`);
  const label = join(dir, `${name}.nii.gz`);
  if (!existsSync(image)) python(['synth', image, label, '--shape', ...shape.map(String), '--spacing', ...spacing.map(String)], false);
  return { image, label };
}

if (flag('--one')) {
  const [image, label, repeat] = args.slice(args.indexOf('--one') + 1);
  console.log(JSON.stringify(await one(image, label, Number(repeat))));
} else {
  const repeat = Number(opt('--repeat', '3'));
  const work = join(tmpdir(), 'mtc-bench-preprocess');
  mkdirSync(work, { recursive: true });
  const fixtures = resolve(root, '../shared/fixtures/realct');
  const cases = [];
  if (existsSync(join(fixtures, 'sub-spleen2_ct.nii.gz'))) {
    cases.push({ name: 'spleen fixture 164x166x26 float32, 0.79x0.79x5 mm', image: join(fixtures, 'sub-spleen2_ct.nii.gz'), label: join(fixtures, 'sub-spleen2_ct_seg-manual.nii.gz') });
  }
  cases.push({ name: 'synthetic 512x512x200 int16, 0.78x0.78x1.25 mm', ...synth(work, 'synth200', [200, 512, 512], [1.25, 0.78, 0.78]) });
  if (flag('--big')) cases.push({ name: 'synthetic 512x512x400 int16, 0.78x0.78x1.25 mm', big: true, ...synth(work, 'synth400', [400, 512, 512], [1.25, 0.78, 0.78]) });
  console.log(`machine: ${cpus()[0].model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString().slice(0, 10)}`);
  console.log('| volume | implementation | median s | voxels/s | peak RSS MB | float32 volume MB |');
  console.log('|---|---|---|---|---|---|');
  for (const c of cases) {
    const r = c.big ? 1 : repeat;
    const ours = child(['--one', c.image, c.label, String(r)]);
    const mb = (ours.voxels * 4) / 2 ** 20;
    const row = (impl, x) => console.log(`| ${c.name} | ${impl} | ${x.median_s.toFixed(2)} | ${(x.voxels_per_s / 1e6).toFixed(2)} M | ${x.peak_rss_mb.toFixed(0)} | ${mb.toFixed(0)} |`);
    row(`multitalent (TypeScript, node ${process.version})`, ours);
    if (!flag('--skip-python') && !c.big) row('nnU-Net libraries (scipy/skimage)', python(['bench', c.image, c.label, '--spacing', ...TARGET.map(String), '--repeat', String(r)]));
  }
}
