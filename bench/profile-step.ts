/**
 * tf.profile of one training step (kernel ms and call counts), for finding what dominates.
 *   npx tsc -p tsconfig.json --outDir node_modules/.cache/mt-bench && \
 *     MTC_NATIVE_CONV3D=$PWD/native/build/mtc_conv3d.node \
 *     node node_modules/.cache/mt-bench/bench/profile-step.js [features=8,16,32,64] [heads=8] [batch=2]
 * MTC_PROFILE_ARCH=resenc_unet profiles the residual-encoder U-Net. (MTC_NATIVE_CONV3D: the addon's default path is relative to the compiled file.) MTC_PROFILE_DETAIL=1
 * adds a per-input-shape table. tf.profile times kernels and the forward of custom ops, not the
 * custom ops' gradient functions; use `node --cpu-prof` or `perf record` for those.
 */
import * as tf from '@tensorflow/tfjs';
import { initRuntime } from '../src/runtime/setup.js';
import { measureStep } from '../src/runtime/train/measure-step.js';

const features = (process.argv[2] ?? '8,16,32,64').split(',').map(Number);
const heads = Number(process.argv[3] ?? 8);
const batch = Number(process.argv[4] ?? 2);
await initRuntime('cpu');
const arch = (process.env.MTC_PROFILE_ARCH ?? 'unet') as 'unet' | 'resenc_unet';
const cfg = { mode: 'train' as const, arch, patch: [32, 32, 32] as [number, number, number], features, batch, heads, warmup: 1, repeats: 3 };
const m = await measureStep(cfg);
console.log(`median ${m.medianMs.toFixed(0)} ms (${m.samples.map((s) => s.toFixed(0)).join(' ')}), params ${m.parameters}`);
const info = await tf.profile(async () => {
  await measureStep({ ...cfg, warmup: 0, repeats: 1 });
});
const agg = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const a = agg.get(k.name) ?? { ms: 0, n: 0 };
  a.ms += Number(k.kernelTimeMs);
  a.n += 1;
  agg.set(k.name, a);
}
for (const [name, a] of [...agg.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 25)) {
  console.log(`${name.padEnd(28)} ${a.ms.toFixed(1).padStart(8)} ms ${String(a.n).padStart(5)}`);
}
if (process.env.MTC_PROFILE_DETAIL === '1') {
  const per = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const a = per.get(key) ?? { ms: 0, n: 0 };
    a.ms += Number(k.kernelTimeMs);
    a.n += 1;
    per.set(key, a);
  }
  for (const [key, a] of [...per.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 30)) {
    console.log(`${a.ms.toFixed(1).padStart(8)} ms ${String(a.n).padStart(3)}  ${key}`);
  }
}
process.exit(0);
