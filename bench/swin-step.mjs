#!/usr/bin/env node
// SwinUNETR's training step on the cpu backend (forward, MultiTalent loss, backward, clip 12, AdamW),
// median of the repeats after one warm-up, with the load average before and after.
//   npm run build && node bench/swin-step.mjs [featureSize=12] [patch=32,32,32] [batch=2] [repeats=3]
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { initRuntime } = await dist('runtime/setup.js');
const { createNetwork } = await dist('runtime/model/registry.js');
const { createOptimizer } = await dist('runtime/train/optimizer.js');
const { trainStep } = await dist('runtime/train/step.js');

const fs = Number(process.argv[2] ?? 12);
const patch = (process.argv[3] ?? '32,32,32').split(',').map(Number);
const batch = Number(process.argv[4] ?? 2);
const repeats = Number(process.argv[5] ?? 3);
const load = () => execFileSync('uptime', { encoding: 'utf8' }).trim().replace(/.*load average: /, '');
await initRuntime('cpu');
const arch = {
  name: 'swin', kind: 'swin_unetr', patch, features: [fs, fs, 2 * fs, 4 * fs, 8 * fs, 16 * fs],
  strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]], convsPerStage: 2, deepSupervision: false,
  swin: { featureSize: fs, depths: [2, 2, 2, 2], heads: [3, 6, 12, 24], window: [7, 7, 7] },
};
const heads = [0, 1].map((i) => ({ dataset: 'd', name: `c${i}`, labels: [i + 1] }));
const model = createNetwork(arch, heads, 1);
const opt = createOptimizer({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.01 });
const vox = batch * patch[0] * patch[1] * patch[2];
const image = tf.randomNormal([batch, ...patch, 1]);
const targets = tf.tensor5d(Float32Array.from({ length: vox * 2 }, (_, i) => (i % 7 === 0 ? 1 : 0)), [batch, ...patch, 2]);
const mask = tf.ones([batch, 2]);
const before = load();
const ms = [];
const cpu = [];
for (let r = 0; r <= repeats; r++) {
  const t = performance.now();
  const c = process.cpuUsage();
  await trainStep(model, model.variables(), opt, { image, targets, mask }, 5e-4, 12);
  const u = process.cpuUsage(c);
  if (r > 0) {
    ms.push(performance.now() - t);
    cpu.push((u.user + u.system) / 1000);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(JSON.stringify({
  name: `swin_unetr step feature size ${fs} patch ${patch.join('x')} batch ${batch}`,
  parameters: model.parameterCount(), ms: Math.round(median(ms)), cpu_ms: Math.round(median(cpu)), load_before: before, load_after: load(),
}));
