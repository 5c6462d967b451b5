#!/usr/bin/env node
// Where the run screen's frames are best written from: by its worker thread itself (fs.writeSync
// to fd 1) or posted back and written by the training's thread. Runs the screen (dist/, in its
// worker) for a synthetic run (a progress event every 50 ms, a stage log line every 250 ms, so
// four frames a second) in a child process per mode, stdout to /dev/null, and reports the CPU
// time of the main thread (the training's) and of the whole process, from /proc.
//
//   node bench/tui-output.mjs [--seconds 10] [--reps 3]
import { spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};

if (process.argv[2] === '--child') {
  const mode = process.argv[3];
  const seconds = Number(process.argv[4]);
  const { attachScreen } = await import(pathToFileURL(join(root, 'dist', 'ui', 'screen', 'host.js')).href);
  const { RunEvents } = await import(pathToFileURL(join(root, 'dist', 'runtime', 'events.js')).href);
  const ticks = (file) => {
    const f = readFileSync(file, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const stages = [
    { id: 'train:a', kind: 'train', deps: [], schedule: { epochs: 1000 } },
    { id: 'evaluate:a', kind: 'evaluate', deps: ['train:a'] },
  ];
  const events = new RunEvents();
  const output = mode === 'fd' ? { fd: 1 } : { post: true };
  const detach = attachScreen(events, { output, terminal: Object.assign(process.stdout, { columns: 80, rows: 24 }) });
  const graph = { stages, source: { experiments: ['a'], file: 'a.mt' } };
  events.emit({ type: 'run-start', graph, backend: 'cpu', runDirs: { a: '/tmp/a' }, store: '/tmp/s', jobs: 1 });
  events.emit({ type: 'stage-start', stage: 'train:a', kind: 'train', description: 'train' });
  await new Promise((r) => setTimeout(r, 1500)); // the worker's start (Ink's import) is not what is measured
  const main0 = ticks(`/proc/self/task/${process.pid}/stat`);
  const all0 = ticks('/proc/self/stat');
  const t0 = Date.now();
  let i = 0;
  await new Promise((done) => {
    const timer = setInterval(() => {
      i++;
      events.emit({ type: 'stage-progress', stage: 'train:a', done: i, total: 250000, unit: 'it', rate: 20, loss: 1 / i, lr: 0.01, epoch: 1 });
      if (i % 5 === 0) events.emit({ type: 'stage-log', stage: 'train:a', message: `line ${i}`, level: 'info' });
      if (Date.now() - t0 >= seconds * 1000) {
        clearInterval(timer);
        done();
      }
    }, 50);
  });
  const main = ticks(`/proc/self/task/${process.pid}/stat`) - main0;
  const all = ticks('/proc/self/stat') - all0;
  events.emit({ type: 'run-end', status: 'done', runDirs: {}, seconds, results: [] });
  await detach();
  process.stderr.write(`${JSON.stringify({ main, all })}\n`);
} else {
  const seconds = Number(arg('seconds', '10'));
  const reps = Number(arg('reps', '3'));
  const uptime = () => spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();
  console.log(`run screen output, ${seconds} s per run, ${reps} runs per mode (ABBA); load before: ${uptime()}`);
  const res = { fd: [], post: [] };
  for (let r = 0; r < reps; r++) {
    for (const mode of r % 2 === 0 ? ['fd', 'post'] : ['post', 'fd']) {
      const out = openSync('/dev/null', 'w');
      const args = [fileURLToPath(import.meta.url), '--child', mode, String(seconds)];
      const p = spawnSync(process.execPath, args, { stdio: ['ignore', out, 'pipe'], encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
      if (p.status !== 0) throw new Error(`${mode}: exit ${p.status}: ${p.stderr}`);
      const m = JSON.parse(p.stderr.trim().split('\n').at(-1));
      res[mode].push(m);
      console.log(`  ${mode.padEnd(4)} main thread ${m.main.toFixed(2)} s CPU, whole process ${m.all.toFixed(2)} s`);
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const mode of ['fd', 'post']) {
    const main = mean(res[mode].map((m) => m.main));
    const all = mean(res[mode].map((m) => m.all));
    console.log(`${mode.padEnd(4)} mean: main thread ${main.toFixed(3)} s, process ${all.toFixed(3)} s per ${seconds} s`);
  }
  console.log(`load after: ${uptime()}`);
}
