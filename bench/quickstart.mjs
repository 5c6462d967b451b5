#!/usr/bin/env node
// The quickstart as a new user runs it, timed end to end: `mtc run experiments/quickstart.mt`
// into a fresh data folder (so the synthetic data is generated and preprocessed as on a first run)
// and a fresh runs folder. Prints the wall-clock time, each stage's time, the held-out mean Dice,
// the native kernels' build and the load average before and after (other load slows it down).
//   node bench/quickstart.mjs [--keep] [--json]      (after `npm ci` / `npm run build`)
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const json = process.argv.includes('--json');
const dir = mkdtempSync(join(tmpdir(), 'mtc-quickstart-'));
const load = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
};

const before = load();
const t0 = performance.now();
const child = spawn(process.execPath, [join(root, 'bin', 'mtc.js'), 'run', join(root, 'experiments', 'quickstart.mt'), '--no-tui',
  '--data', join(dir, 'data'), '--runs', join(dir, 'runs')], { stdio: ['ignore', 'pipe', 'inherit'] });
let header = '';
child.stdout.on('data', (d) => {
  const text = String(d);
  if (!header) header = text.split('\n').find((l) => l.includes('backend')) ?? '';
  if (!json) process.stdout.write(text);
});
const code = await new Promise((r) => child.on('close', r));
const seconds = (performance.now() - t0) / 1000;
const after = load();
if (code !== 0) {
  console.error(`mtc run failed (exit ${code}); files kept in ${dir}`);
  process.exit(1);
}
// Run folders are <runs>/<experiment>/<run key>/ (the store is <runs>/.store); fresh folders hold one.
const experimentDir = join(dir, 'runs', 'quickstart');
const runDir = join(experimentDir, readdirSync(experimentDir).find((n) => existsSync(join(experimentDir, n, 'metrics.json'))) ?? '');
const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
const summary = metrics.summaries.find((s) => s.stage.includes('quickstart')) ?? metrics.summaries[0];
const result = {
  name: 'quickstart: mtc run experiments/quickstart.mt (fresh data and runs folders)',
  seconds,
  meanDice: summary?.classAverage ?? null,
  stageSeconds: metrics.stageSeconds,
  backend: header.trim(),
  loadBefore: before,
  loadAfter: after,
};
if (json) console.log(JSON.stringify(result));
else {
  const m = Math.floor(seconds / 60);
  console.log(`\nquickstart end to end: ${m} min ${Math.round(seconds - 60 * m)} s, mean held-out Dice ${result.meanDice?.toFixed(4) ?? 'n/a'}`);
  console.log(`load before: ${before}\nload after:  ${after}`);
}
if (!keep) rmSync(dir, { recursive: true, force: true });
else console.error(`kept ${dir}`);
