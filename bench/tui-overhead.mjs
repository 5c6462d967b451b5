#!/usr/bin/env node
// What the Ink screen costs the training: the same small two-stage run (pre-training, then a
// fine-tune) under the screen and with --no-tui, both in a pseudo-terminal (util-linux `script`),
// interleaved in one sitting (ABBA order), each repetition in a fresh runs folder so nothing is
// served from the stage store (the synthetic data and the preprocessing cache are shared, made
// once by a warm-up run).
//
//   node bench/tui-overhead.mjs [--reps 4] [--epochs 4] [--iterations 10] [--cols 80] [--rows 24] [--keep] [--baseline BIN]
//
// --baseline BIN adds a third mode, `base`: the screen of another build of mtc (its bin/mtc.js, e.g.
// a checkout from before a change), interleaved with the other two in the same sitting.
//
// Reports, per mode, the wall time of the whole command and the training time (the seconds of
// the train and finetune stages, from the run folder's events.jsonl), their medians, and the
// difference, and the CPU time of the whole process (all its threads; bench/cpu-at-exit.mjs), the
// figure a loaded machine disturbs least, and of its main thread (the training's; the screen draws
// in a worker thread of its own); with the CPU model and the load (`uptime`) before and after. Needs `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const reps = Number(arg('reps', '4'));
const epochs = Number(arg('epochs', '4'));
const iterations = Number(arg('iterations', '10'));
const cols = Number(arg('cols', '80'));
const rows = Number(arg('rows', '24'));
const keep = process.argv.includes('--keep');
const baseline = arg('baseline', undefined);

const source = `import "std/augmentation"
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
architecture small { kind unet  patch [32, 32, 32]  features [8, 16, 32]  deep_supervision false }
schedule pre { lr poly(0.01, 0.9)  epochs ${epochs}  iterations ${iterations}  validation 2 }
schedule ft {
  epochs ${epochs}  iterations ${iterations}  validation 2
  phase heads { epochs 1     lr linear(0, 0.01) }
  phase all   { epochs rest  lr poly(0.01, 0.9) }
}
experiment bench_pre { datasets [liver, vessel]  architecture small  schedule pre  spacing [4, 4, 4]  seed 3  augmentation nnunet_augmentation }
experiment bench_ft  { pretrained bench_pre  datasets [kidney]  schedule ft  seed 3  augmentation nnunet_augmentation }
`;

const dir = mkdtempSync(join(tmpdir(), 'mtc-tui-bench-'));
const file = join(dir, 'bench.mt');
writeFileSync(file, source);
const bin = join(root, 'bin', 'mtc.js');
const sh = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function uptime() {
  return execFileSync('uptime', { encoding: 'utf8' }).trim();
}

/** One run in a pseudo-terminal of cols x rows; returns wall seconds and the training stages' seconds. */
function runOnce(mode, runs) {
  const flags = mode === 'plain' ? ['--no-tui'] : [];
  const cpuFile = join(runs + '.cpu.json');
  const mtc = mode === 'base' ? resolve(baseline) : bin;
  const cmd = `stty cols ${cols} rows ${rows}; exec ${sh(process.execPath)} --import ${sh(join(root, 'bench', 'cpu-at-exit.mjs'))} ${sh(mtc)} run ${sh(file)} --backend cpu --data ${sh(join(dir, 'data'))} --runs ${sh(runs)} ${flags.join(' ')}`;
  const t0 = performance.now();
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm-256color', MTC_BENCH_CPU: cpuFile } });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    process.stderr.write(r.stdout.slice(-3000) + r.stderr.slice(-2000));
    throw new Error(`${mode} run exited with ${r.status}`);
  }
  // The fine-tune's run folder logs every stage of the plan it ran in.
  let train = 0;
  const expDir = join(runs, 'bench_ft');
  for (const key of readdirSync(expDir)) {
    for (const line of readFileSync(join(expDir, key, 'events.jsonl'), 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line);
      if (e.type === 'stage-end' && e.status === 'done' && /^(train|finetune):/.test(e.stage)) train += e.seconds;
    }
  }
  const c = JSON.parse(readFileSync(cpuFile, 'utf8'));
  return { wall, train, cpu: c.user + c.system, main: c.main ?? NaN, bytes: r.stdout.length };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

let cpu = '';
try {
  cpu = execFileSync('lscpu', { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Model name'))?.replace(/^Model name:\s*/, '') ?? '';
} catch {
  /* lscpu missing */
}
console.log(`mtc TUI overhead: ${reps} repetitions per mode, ${epochs} epochs x ${iterations} iterations per stage, pty ${cols}x${rows}`);
console.log(`cpu: ${cpu}; node ${process.version}`);
console.log(`load before: ${uptime()}`);
try {
  runOnce('plain', join(dir, 'warmup')); // synthesises the data and fills the preprocessing cache
  const modes = baseline ? ['plain', 'ink', 'base'] : ['plain', 'ink'];
  const results = Object.fromEntries(modes.map((m) => [m, []]));
  for (let i = 0; i < reps; i++) {
    const order = i % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const r = runOnce(mode, join(dir, `runs-${mode}-${i}`));
      results[mode].push(r);
      console.log(`  rep ${i + 1} ${mode.padEnd(5)} wall ${r.wall.toFixed(2)} s  training ${r.train.toFixed(2)} s  cpu ${r.cpu.toFixed(2)} s (main thread ${r.main.toFixed(2)} s)  (${r.bytes} bytes to the terminal; ${uptime().replace(/.*load/, 'load')})`);
    }
  }
  const row = (mode) => {
    const w = results[mode].map((r) => r.wall);
    const t = results[mode].map((r) => r.train);
    const c = results[mode].map((r) => r.cpu);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { cpu: median(c), main: median(results[mode].map((r) => r.main)), wall: median(w), train: median(t), wallMean: mean(w), trainMean: mean(t) };
  };
  const p = row('plain');
  const pct = (a, b) => `${(((a - b) / b) * 100).toFixed(1)} %`;
  for (const mode of modes.slice(1)) {
    const k = row(mode);
    const name = mode === 'ink' ? 'Ink' : 'baseline Ink';
    console.log(`${name} vs --no-tui:`);
    console.log(`  median wall:     --no-tui ${p.wall.toFixed(2)} s, ${name} ${k.wall.toFixed(2)} s: ${pct(k.wall, p.wall)}`);
    console.log(`  median training: --no-tui ${p.train.toFixed(2)} s, ${name} ${k.train.toFixed(2)} s: ${pct(k.train, p.train)}`);
    console.log(`  median CPU time: --no-tui ${p.cpu.toFixed(2)} s, ${name} ${k.cpu.toFixed(2)} s: ${pct(k.cpu, p.cpu)}`);
    console.log(`  median CPU time of the main (training's) thread: --no-tui ${p.main.toFixed(2)} s, ${name} ${k.main.toFixed(2)} s: ${pct(k.main, p.main)}`);
    console.log(`  mean training:   --no-tui ${p.trainMean.toFixed(2)} s, ${name} ${k.trainMean.toFixed(2)} s: ${pct(k.trainMean, p.trainMean)}`);
  }
  console.log(`load after: ${uptime()}`);
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
