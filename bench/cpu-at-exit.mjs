// Preloaded by bench/tui-overhead.mjs (`node --import`): writes the process's CPU time (user and
// system, every thread of it: the training loader's workers included) to $MTC_BENCH_CPU at exit.
import { writeFileSync } from 'node:fs';

const out = process.env.MTC_BENCH_CPU;
if (out) {
  process.on('exit', () => {
    const u = process.cpuUsage();
    writeFileSync(out, JSON.stringify({ user: u.user / 1e6, system: u.system / 1e6 }));
  });
}
