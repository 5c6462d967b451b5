// Whole-process time of `mtc check` over every stdlib and experiments file (issue: < 1 s).
// Run after a build: node bench/check.mjs [runs]
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? 7);
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.mt') ? [join(dir, e.name)] : [],
  );
const args = ['bin/mtc.js', 'check', ...files('stdlib'), ...files('experiments')];
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  execFileSync(process.execPath, args, { stdio: 'pipe' });
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ name: `mtc check (${args.length - 2} files, whole process)`, runs, ms: Math.round(median), min: Math.round(times[0]), max: Math.round(times.at(-1)) }));
