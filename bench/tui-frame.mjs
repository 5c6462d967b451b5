#!/usr/bin/env node
// The Ink screen's cost per event and per frame, in process (no terminal): the reducer, the
// layout, and one Ink frame (React commit, Yoga layout, output) of a realistic screen, in CPU
// milliseconds. With the frame rate (4 a second at most) this bounds what the screen can take
// from a training. Needs `npm run build`; run with NODE_ENV=production as `mtc` does.
//
//   NODE_ENV=production node bench/tui-frame.mjs
import { execFileSync } from 'node:child_process';
import React from 'react';
import { render } from 'ink-testing-library';
import { RunScreen } from '../dist/ui/ink/App.js';
import { screenLines } from '../dist/ui/ink/layout.js';
import { emptyRunView, reduceRunView } from '../dist/ui/state.js';

const train = (id, deps) => ({ id, deps, kind: 'train', schedule: { epochs: 1000 } });
const stages = [{ id: 'prepare:Dataset003_Liver', deps: [], kind: 'prepare' }, { id: 'preprocess:collection', deps: ['prepare:Dataset003_Liver'], kind: 'preprocess' }];
for (let i = 0; i < 40; i++) {
  stages.push(train(`train:baseline_${i}_fold${i % 5}`, ['preprocess:collection']));
  stages.push({ id: `evaluate:baseline_${i}_fold${i % 5}`, deps: [`train:baseline_${i}_fold${i % 5}`], kind: 'evaluate' });
}
const graph = { source: { file: 'x.mt', experiments: Array.from({ length: 40 }, (_, i) => `baseline_${i}`) }, stages };
const running = stages[2].id;
const events = [
  { type: 'run-start', graph, runDirs: { baseline_0: '/home/u/runs/baseline_0/8f3a2c1d9e7b6a5f' }, backend: 'cpu (native kernels)', store: '/s', jobs: 1 },
  { type: 'stage-end', stage: stages[0].id, status: 'cached', seconds: 0 },
  { type: 'stage-end', stage: stages[1].id, status: 'done', seconds: 80 },
  { type: 'stage-start', stage: running, kind: 'train', description: 'train' },
  { type: 'epoch', stage: running, best: false, record: { epoch: 2, phase: 0, lr: 0.01, meanLoss: 1, meanPseudoDice: 0.5, ema: 0.45, seconds: 300, pseudoDice: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`Dataset00${i % 3}/class_${i}`, i / 15])) } },
];
const N = 20000;
for (let i = 1; i <= N; i++) events.push({ type: 'stage-progress', stage: running, done: i, total: 250000, unit: 'it', rate: 3.2, loss: 1 / Math.sqrt(i), lr: 0.01, epoch: 3, memory: { rss: 2e9, tensors: 4e8 } });

const cpuMs = (f, n) => {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
};
let view = emptyRunView;
const perEvent = cpuMs((i) => (view = reduceRunView(view, events[i])), events.length);
const perLayout = cpuMs(() => screenLines(view, { columns: 80, rows: 24 }), 500);
const h = (v, rows) => React.createElement(RunScreen, { view: v, columns: 80, rows });
const { rerender, unmount } = render(h(view, 24));
for (let i = 0; i < 30; i++) rerender(h({ ...view }, 24 + (i % 2))); // warm-up
const perFrame = cpuMs((i) => rerender(h({ ...view }, 24 + (i % 2))), 300);
unmount();
console.log(`NODE_ENV=${process.env.NODE_ENV ?? ''}; ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
console.log(`reducer: ${(perEvent * 1000).toFixed(1)} us CPU per event (${events.length} events, 82 stages)`);
console.log(`layout:  ${perLayout.toFixed(3)} ms CPU per frame`);
console.log(`Ink:     ${perFrame.toFixed(3)} ms CPU per frame (layout included); at 4 frames/s: ${((perFrame * 4) / 10).toFixed(2)} % of one core`);
