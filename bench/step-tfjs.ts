/**
 * Median milliseconds per training step (forward + MultiTalent loss + backward + SGD) and per
 * inference forward pass, per tfjs backend, on the networks the quickstart is sized from.
 *
 * Run (compiles to an ignored folder, then runs):
 *   npx tsc -p tsconfig.json --outDir node_modules/.cache/mt-bench && \
 *     node node_modules/.cache/mt-bench/bench/step-tfjs.js [cpu,wasm] [repeats]
 */
import { initBackend, type BackendChoice } from '../src/runtime/backend.js';
import { measureStep, type StepMeasureConfig } from '../src/runtime/train/measure-step.js';

const backends = (process.argv[2] ?? 'cpu,wasm').split(',') as BackendChoice[];
const repeats = Number(process.argv[3] ?? 5);

const configs: Omit<StepMeasureConfig, 'repeats' | 'warmup'>[] = [
  { mode: 'train', patch: [32, 32, 32], features: [8, 16, 32, 64], batch: 2, heads: 11 },
  { mode: 'train', patch: [24, 24, 24], features: [8, 16, 32], batch: 2, heads: 11 },
  { mode: 'train', patch: [16, 16, 16], features: [4, 8, 16, 32], batch: 2, heads: 11 },
  { mode: 'infer', patch: [32, 32, 32], features: [8, 16, 32, 64], batch: 1, heads: 11 },
];

for (const b of backends) {
  const name = await initBackend(b);
  for (const c of configs) {
    const m = await measureStep({ ...c, repeats, warmup: 1 });
    const samples = m.samples.map((s) => s.toFixed(0)).join(' ');
    console.log(
      `${name.padEnd(5)} ${c.mode.padEnd(5)} patch ${c.patch.join('x')} batch ${c.batch} features [${c.features.join(',')}] heads ${c.heads} params ${m.parameters}: median ${m.medianMs.toFixed(0)} ms (${samples})`,
    );
  }
}
process.exit(0);
