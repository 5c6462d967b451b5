#!/usr/bin/env node
// Per-kernel throughput of the native conv3d kernels, every instruction-set build this CPU runs:
// forward, input gradient and filter gradient of the U-Net's convolutions, called on the addon
// directly (no tfjs), best of R repetitions. Two figures per kernel:
//   wall  GFLOP/s on all kernel threads (what a training step sees on a quiet machine);
//   cpu   GFLOP/s per second of process CPU time on 1 thread (barely moved by other load, so
//         kernel changes can be compared on a busy machine).
// Then the fp32 FMA peak of each build (the same two ways).
//   node bench/kernels.mjs [--reps 5] [--isa avx512,avx2] [--json]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const json = args.includes('--json');
const reps = Number(opt('reps', 5));
const addonPath = process.env.MTC_NATIVE_CONV3D ?? fileURLToPath(new URL('../native/build/mtc_conv3d.node', import.meta.url));
const a = createRequire(import.meta.url)(addonPath);
if (!a.setIsa) throw new Error(`${addonPath} predates run-time build selection: run node scripts/build-native.mjs`);
const isas = opt('isa', a.info().isas.join(',')).split(',');
const threads = a.info().threads;

// [B, D, H, W, C], filters, kernel, stride: the convolutions of `mtc bench`'s U-Nets.
const cases = [
  [[2, 32, 32, 32, 16], 16, 3, 1],
  [[2, 32, 32, 32, 32], 16, 3, 1],
  [[2, 32, 32, 32, 16], 32, 3, 2],
  [[2, 16, 16, 16, 32], 32, 3, 1],
  [[2, 8, 8, 8, 64], 64, 3, 1],
  [[2, 4, 4, 4, 128], 128, 3, 1],
  [[2, 32, 32, 32, 8], 8, 3, 1],
  [[2, 32, 32, 32, 1], 8, 3, 1],
];

function params([B, D, H, W, C], F, k, s) {
  const p = k === 1 ? 0 : Math.floor((k - 1) / 2);
  const o = (n) => Math.floor((n + 2 * p - k) / s) + 1;
  return { p: Int32Array.from([B, D, H, W, C, o(D), o(H), o(W), F, k, k, k, s, s, s, p, p, p]), out: [B, o(D), o(H), o(W), F] };
}
const filled = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed));
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
function best(fn, clock) {
  fn();
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = clock();
    fn();
    t = Math.min(t, clock() - t0);
  }
  return t;
}
const wallSeconds = () => performance.now() / 1e3;

const rows = [];
for (const [shape, F, k, s] of cases) {
  const { p, out } = params(shape, F, k, s);
  const nx = shape.reduce((x, y) => x * y);
  const ny = out.reduce((x, y) => x * y);
  const nw = k ** 3 * shape[4] * F;
  const x = filled(nx, 1), w = filled(nw, 2), dy = filled(ny, 3);
  const y = new Float32Array(ny), dx = new Float32Array(nx), dw = new Float32Array(nw);
  const flops = 2 * ny * k ** 3 * shape[4];
  for (const isa of isas) {
    a.setIsa(isa);
    const row = { case: `[${shape}]->${F} k${k} s${s}`, isa };
    for (const [name, fn] of [['fwd', () => a.forward(x, w, p, y)], ['dx', () => a.backpropInput(dy, w, p, dx)], ['dw', () => a.backpropFilter(x, dy, p, dw)]]) {
      a.setThreads(0);
      row[`${name}_wall`] = flops / best(fn, wallSeconds) / 1e9;
      a.setThreads(1);
      row[`${name}_cpu`] = flops / best(fn, cpuSeconds) / 1e9;
    }
    a.setThreads(0);
    rows.push(row);
  }
}
const peaks = isas.map((isa) => {
  a.setIsa(isa);
  let wall = 0, cpu = 0, bwall = 0, bcpu = 0;
  for (let i = 0; i < 5; i++) {
    const q = a.fmaPeak(100);
    wall = Math.max(wall, q.gflops);
    cpu = Math.max(cpu, q.cpuGflops / q.threads);
    // The same chains with one broadcast memory operand per FMA, as 16-channel tiles run them.
    const b = a.fmaPeak(100, 'broadcast');
    if (b.broadcast) {
      bwall = Math.max(bwall, b.gflops);
      bcpu = Math.max(bcpu, b.cpuGflops / b.threads);
    }
  }
  return { isa, wall, cpu_per_thread: cpu, broadcast_wall: bwall, broadcast_cpu_per_thread: bcpu };
});
let load = '';
try {
  load = execFileSync('uptime', { encoding: 'utf8' }).trim();
} catch {}
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} kernel threads`;
if (json) {
  console.log(JSON.stringify({ machine, load, rows, peaks }));
} else {
  console.log(`${machine}; ${load}`);
  console.log('GFLOP/s per kernel: wall = all threads, best of', reps, '; cpu = 1 thread per second of CPU time');
  console.log('| convolution | build | fwd wall | dx wall | dw wall | fwd cpu | dx cpu | dw cpu |');
  console.log('|---|---|---|---|---|---|---|---|');
  const f = (v) => v.toFixed(1);
  for (const r of rows) console.log(`| ${r.case} | ${r.isa} | ${f(r.fwd_wall)} | ${f(r.dx_wall)} | ${f(r.dw_wall)} | ${f(r.fwd_cpu)} | ${f(r.dx_cpu)} | ${f(r.dw_cpu)} |`);
  for (const p of peaks) {
    console.log(`fp32 FMA peak, ${p.isa} build: ${f(p.wall)} GFLOP/s wall on ${threads} threads, ${f(p.cpu_per_thread)} GFLOP/s per thread per CPU-second`);
    if (p.broadcast_wall > 0) {
      const share = (100 * p.broadcast_wall / p.wall).toFixed(0);
      console.log(`  with one broadcast memory operand per FMA: ${f(p.broadcast_wall)} GFLOP/s wall (${share} %), `
        + `${f(p.broadcast_cpu_per_thread)} per thread per CPU-second`);
    }
  }
}
