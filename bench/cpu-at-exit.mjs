// Preloaded by bench/tui-overhead.mjs (`node --import`): writes the process's CPU time (user and
// system, every thread of it: the training loader's workers and the run screen's worker included)
// and the main thread's alone (the training's thread, from /proc; null where there is no /proc)
// to $MTC_BENCH_CPU at exit.
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env.MTC_BENCH_CPU;

function mainThreadSeconds() {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

if (out) {
  process.on('exit', () => {
    const u = process.cpuUsage();
    writeFileSync(out, JSON.stringify({ user: u.user / 1e6, system: u.system / 1e6, main: mainThreadSeconds() }));
  });
}
