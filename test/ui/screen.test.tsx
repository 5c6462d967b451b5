import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render } from 'ink-testing-library';
import { interruptHandling } from '../../src/cli/commands/run.js';
import { RunEvents, type RunEvent } from '../../src/runtime/events.js';
import { RunApp, RunScreen } from '../../src/ui/ink/App.js';
import { cutMiddle, epilogueLines, fitLine, lineWidth, screenLines, sparkline, visibleStages } from '../../src/ui/ink/layout.js';
import { emptyRunView, MAX_WARNINGS, pushLoss, reduceRunView, SPARK_POINTS, traceValues, type RunView } from '../../src/ui/state.js';
import { ThrottledView } from '../../src/ui/throttle.js';
import { sampleGraph } from '../graph/fixture.js';
import { captureIO } from '../cli/helpers.js';
import { classNames, epochRecord, manyStageGraph, trainingEvents } from './scenarios.js';

const reduce = (events: RunEvent[], from: RunView = emptyRunView) => events.reduce(reduceRunView, from);
const text = (lines: ReturnType<typeof screenLines>) => lines.map((l) => l.map((s) => s.text).join(''));

/** A finished run of many experiments: cached and done stages, a failure, its skipped dependants, an interruption, results. */
function finishedManyStages(): RunEvent[] {
  const graph = manyStageGraph(30);
  const train = graph.stages.filter((s) => s.kind === 'train');
  const events = trainingEvents(graph, train[0].id, classNames(15), 20);
  events.push({ type: 'stage-end', stage: train[0].id, status: 'done', seconds: 3600 * 5.2, key: 'e'.repeat(64) });
  train.slice(1, 10).forEach((s) => events.push({ type: 'stage-end', stage: s.id, status: 'cached', seconds: 0, key: 'f'.repeat(64) }));
  events.push({ type: 'stage-start', stage: train[10].id, kind: 'train', description: 'train', key: '1'.repeat(64) });
  events.push({ type: 'stage-end', stage: train[10].id, status: 'failed', seconds: 12, error: 'training diverged at iteration 1523 (epoch 6): the loss is NaN. The batch drew cases liver_004, liver_017; lower the learning rate or check these cases\' labels' });
  events.push({ type: 'stage-end', stage: train[10].id.replace('train:', 'evaluate:'), status: 'skipped', seconds: 0, error: `needs '${train[10].id}', which failed` });
  events.push({ type: 'stage-start', stage: train[11].id, kind: 'train', description: 'train', key: '2'.repeat(64) });
  events.push({ type: 'checkpoint', stage: train[11].id, kind: 'latest', epoch: 41 });
  events.push({ type: 'stage-end', stage: train[11].id, status: 'interrupted', seconds: 99, error: 'interrupted at epoch 41' });
  events.push({
    type: 'evaluation',
    result: { stage: train[0].id.replace('train:', 'evaluate:'), experiment: 'baseline_0', classes: classNames(15).map((c, i) => ({ dataset: c.split('/')[0], name: c.split('/')[1], dice: i % 5 === 4 ? null : i / 15, perCase: {} })), meanDice: 0.45 },
  });
  events.push({ type: 'run-end', status: 'interrupted', runDirs: {}, seconds: 3600 * 6, results: [] });
  return events;
}

function scenarios(): { name: string; view: RunView }[] {
  const small = sampleGraph();
  const many = manyStageGraph(40);
  const manyTrain = many.stages.find((s) => s.kind === 'train')!.id;
  return [
    { name: 'quickstart-like, 3 classes', view: reduce(trainingEvents(small, 'train:pre', classNames(3))) },
    { name: '82 stages with long names, 15 classes', view: reduce(trainingEvents(many, manyTrain, classNames(15))) },
    { name: '45 classes', view: reduce(trainingEvents(small, 'train:pre', classNames(45))) },
    { name: 'finished: cached, failed, skipped, interrupted, results', view: reduce(finishedManyStages()) },
    { name: 'before the first event', view: emptyRunView },
  ];
}

describe('screen layout', () => {
  for (const columns of [80, 60, 40, 120]) {
    it(`keeps every line within ${columns} columns, and a live frame within the terminal's rows`, () => {
      for (const { name, view } of scenarios()) {
        for (const rows of [24, 50]) {
          const lines = screenLines(view, { columns, rows });
          for (const l of text(lines)) expect(l.length, `${name} at ${columns}x${rows}: ${l}`).toBeLessThanOrEqual(columns);
          expect(lines.length, name).toBeLessThanOrEqual(rows - 1);
        }
      }
    });
  }

  it('shows the stage tree, progress bar with it/s and ETA, epoch and LR, loss sparkline, pseudo-Dice, backend, memory and warnings', () => {
    const view = reduce(trainingEvents(sampleGraph(), 'train:pre', classNames(3)));
    const lines = text(screenLines(view, { columns: 80, rows: 40 }));
    const all = lines.join('\n');
    expect(lines[0]).toBe('mtc run ft  cpu (native kernels, avx512)  rss 1.8G');
    expect(all).toMatch(/^≡ prepare:a +cached$/m);
    expect(all).toMatch(/^✔ └ preprocess:pre +done 1m23s$/m);
    expect(all).toMatch(/^▶ {3}└ train:pre +0%$/m);
    expect(all).toMatch(/^· {5}└ finetune:ft +pending$/m);
    expect(all).toContain('stages (9): 1 done, 3 cached, 1 running, 4 pending');
    expect(all).toMatch(/▶ train:pre {2}epoch 4\/2 {2}lr 9\.87e-3 {2}mem 1\.8G \(tensors 412M\)/);
    expect(all).toMatch(/ {2}░+ {3}0% {2}400\/250000 it {2}3\.21 it\/s {2}ETA 21h35m/);
    expect(all).toMatch(/ {2}loss -?\d\.\d{4} {2}[▁▂▃▄▅▆▇█]{30,}/);
    expect(all).toContain('pseudo-Dice 0.370  ema 0.333  (epoch 3)');
    // One row per dataset: classes of different datasets may share a name.
    expect(all).toMatch(/^ {3}Dataset007 {2}liver \.00 *\n {3}Dataset008 {2}spleen \.37 *\n {3}Dataset009 {2}kidney_left \.74 *$/m);
    const withResult = reduce([{ type: 'evaluation', result: { stage: 'evaluate:ft', experiment: 'ft', classes: [{ dataset: 'c', name: 'kidney', dice: 0.7, perCase: {} }], meanDice: 0.7 } }], view);
    expect(text(screenLines(withResult, { columns: 80, rows: 40 }))).toContain('Dice 0.7000 (1 class, table at the end)  evaluate:ft');
    expect(all).toContain('! train:pre: mixed precision is not available on tfjs; training in fp32');
    expect(lines.at(-1)).toBe('q stop (a checkpoint is written; the same command resumes)');
  });

  it('colours each pseudo-Dice by its value', () => {
    const view = reduce(trainingEvents(sampleGraph(), 'train:pre', classNames(3)));
    const segs = screenLines(view, { columns: 80, rows: 40 }).flat();
    const colourOf = (t: string) => segs.find((s) => s.text === t)?.color;
    expect([colourOf('.00'), colourOf('.37'), colourOf('.74')]).toEqual(['red', 'yellow', 'green']);
  });

  it('folds a long stage list around the running stage and says what is hidden', () => {
    const many = manyStageGraph(40);
    const train = many.stages.filter((s) => s.kind === 'train');
    const view = reduce(trainingEvents(many, train[5].id, classNames(4)));
    const lines = text(screenLines(view, { columns: 80, rows: 24 }));
    expect(lines.some((l) => l.startsWith('▶') && l.includes('Dataset005'))).toBe(true);
    expect(lines.find((l) => l.includes('more: '))).toMatch(/^ {2}… \d+ more: 1 done, 1 cached, \d+ pending$/);
    const { shown, hidden } = visibleStages(view.stages, 10);
    expect(shown.length + hidden.length).toBe(view.stages.length);
    expect(shown).toHaveLength(9);
    expect(shown.map((s) => s.status)).toContain('running');
  });

  it('the last frame shows the failure, the skip, the interruption and the outcome; the Dice table and every warning follow it', () => {
    const view = reduce(finishedManyStages());
    const lines = text(screenLines(view, { columns: 80, rows: 24 }));
    expect(lines.length).toBeLessThanOrEqual(23);
    const all = lines.join('\n');
    expect(all).toMatch(/^✘ .*fold0.* +failed$/m);
    expect(all).toMatch(/^↷ .* +skipped$/m);
    expect(all).toMatch(/^‖ .* +interrupted, resumes at epoch 42$/m);
    expect(all).toContain('warnings (3), in full below');
    expect(all).toMatch(/^Dice 0\.4500 \(12 classes, table below\) {2}evaluate:baseline_Dataset000/m);
    expect(lines.at(-1)).toBe('interrupted in 6h00m');
    expect(all).not.toContain('q stop');
    for (const l of text(epilogueLines(view, 40))) expect(l.length).toBeLessThanOrEqual(40);
    {
      const after = text(epilogueLines(view, 80));
      const joined = after.join('\n').replace(/\n {2}/g, ' ');
      expect(joined).toMatch(/^! train:\S+: failed: training diverged at iteration 1523 \(epoch 6\)/m);
      expect(joined).toContain("lower the learning rate or check these cases' labels"); // wrapped, not cut
    }
    const after = text(epilogueLines(view, 80)).join('\n');
    expect(after).toContain('mean Dice (baseline_0, 12 classes): 0.4500');
    expect(after).toMatch(/^Dataset009 {2}urinary_bladder +n\/a$/m);
    expect(epilogueLines(emptyRunView, 80)).toEqual([]);
  });

  it('cuts lines, names and paths without wrapping', () => {
    expect(cutMiddle('train:baseline_Dataset001_fold3', 15)).toBe('train:b…1_fold3');
    expect(cutMiddle('short', 15)).toBe('short');
    const cut = fitLine([{ text: 'abcdef' }, { text: 'ghij', color: 'red' }], 8);
    expect(cut.map((s) => s.text)).toEqual(['abcdef', 'g…']);
    expect(lineWidth(cut)).toBe(8);
    expect(sparkline([3, 2, 1, 0], 4)).toBe('█▆▃▁');
    expect(sparkline([1, 1, 1], 10)).toBe('▁▁▁');
    expect(sparkline(Array.from({ length: 1000 }, (_, i) => 1000 - i), 20)).toHaveLength(20);
  });
});

describe('run view reducer (screen facts)', () => {
  it('builds the stage tree from dependencies and records the epochs of trainings', () => {
    const view = reduce(trainingEvents(sampleGraph(), 'train:pre', classNames(3), 5));
    const at = (id: string) => view.stages.find((s) => s.id === id)!;
    expect([at('prepare:a').depth, at('preprocess:pre').depth, at('train:pre').depth, at('finetune:ft').depth, at('evaluate:ft').depth]).toEqual([0, 1, 2, 3, 4]);
    expect(at('preprocess:c@pre').parent).toBe('preprocess:pre');
    expect(at('finetune:ft').parent).toBe('preprocess:c@pre');
    expect(at('train:pre').epochs).toBe(2);
    expect(at('train:pre').memory).toEqual({ rss: 1.8 * 1024 ** 3, tensors: 412 * 1024 ** 2 });
    expect(traceValues(at('train:pre').lossTrace)).toHaveLength(5);
  });

  it('keeps a whole training in a bounded loss trace of bucket means', () => {
    let t = pushLoss(undefined, 1);
    for (let i = 1; i < 10_000; i++) t = pushLoss(t, i % 2 === 0 ? 1 : 3);
    expect(t.points.length).toBeLessThan(SPARK_POINTS);
    expect(t.points.length).toBeGreaterThan(SPARK_POINTS / 4);
    expect(t.per * t.points.length + t.count).toBeGreaterThan(9_000);
    for (const p of t.points) expect(p).toBeCloseTo(2, 5);
    expect(pushLoss(t, Number.NaN)).toBe(t);
  });

  it('collects warnings: stage logs marked as such, failures and skips, the latest MAX_WARNINGS', () => {
    const base = reduce(trainingEvents(sampleGraph(), 'train:pre', classNames(3), 1));
    const view = reduce(
      [
        { type: 'stage-log', stage: 'train:pre', message: 'an ordinary line' },
        ...Array.from({ length: MAX_WARNINGS + 5 }, (_, i): RunEvent => ({ type: 'stage-log', stage: 'train:pre', message: `w${i}`, level: 'warning' })),
        { type: 'stage-end', stage: 'train:pre', status: 'failed', seconds: 1, error: 'out of memory' },
        { type: 'stage-end', stage: 'finetune:ft', status: 'skipped', seconds: 0, error: "needs 'train:pre', which failed" },
        { type: 'stage-end', stage: 'evaluate:ft', status: 'skipped', seconds: 0 },
      ],
      base,
    );
    expect(view.warnings).toHaveLength(MAX_WARNINGS);
    expect(view.warnings.slice(-2)).toEqual([
      { stage: 'train:pre', message: 'failed: out of memory' },
      { stage: 'finetune:ft', message: "skipped: needs 'train:pre', which failed" },
    ]);
    expect(view.warnings.some((w) => w.message === 'an ordinary line')).toBe(false);
  });

  it('marks a stage running when its progress arrives before its start (relayed from another process)', () => {
    const start: RunEvent = { type: 'run-start', graph: sampleGraph(), runDirs: {}, backend: 'cpu', store: '/s', jobs: 2 };
    const view = reduce([start, { type: 'stage-progress', stage: 'train:pre', done: 1, total: 4, unit: 'it' }]);
    expect(view.stages.find((s) => s.id === 'train:pre')?.status).toBe('running');
    expect(view.jobs).toBe(2);
  });
});

/** Fake time for the throttled view: timers fire when the clock passes them. */
function fakeTime() {
  let clock = 0;
  let next = 0;
  const timers = new Map<number, { at: number; f: () => void }>();
  return {
    options: {
      now: () => clock,
      setTimer: (f: () => void, ms: number) => {
        timers.set(++next, { at: clock + ms, f });
        return next;
      },
      clearTimer: (t: unknown) => void timers.delete(t as number),
    },
    advance(to: number) {
      clock = to;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > clock) break;
        timers.delete(id);
        t.f();
      }
    },
  };
}

describe('throttled view', () => {
  it('reduces every event at once but publishes progress twice a second at most, and the end of the run at once', () => {
    const events = new RunEvents();
    const time = fakeTime();
    const store = new ThrottledView(events, { intervalMs: 250, ...time.options });
    let published = 0;
    store.subscribe(() => published++);
    const script = trainingEvents(sampleGraph(), 'train:pre', classNames(3), 1000);
    // 1000+ events over 2 s of (fake) time.
    script.forEach((e, i) => {
      time.advance((2000 * i) / script.length);
      events.emit(e);
    });
    expect(published).toBeGreaterThanOrEqual(3);
    expect(published).toBeLessThanOrEqual(5);
    expect(store.getSnapshot().stages.find((s) => s.id === 'train:pre')?.done).toBeLessThan(1000); // not yet drawn
    events.emit({ type: 'run-end', status: 'done', runDirs: {}, seconds: 2, results: [] });
    expect(store.getSnapshot().finished).toEqual({ status: 'done', seconds: 2 });
    expect(store.getSnapshot().stages.find((s) => s.id === 'train:pre')?.done).toBe(1000);
    store.dispose();
  });

  it('draws a stage that starts or ends sooner than the next progress frame, four frames a second at most', () => {
    const events = new RunEvents();
    const time = fakeTime();
    const store = new ThrottledView(events, { intervalMs: 250, ...time.options });
    const seen: number[] = [];
    let clock = 0;
    store.subscribe(() => seen.push(clock));
    const [start, ...rest] = trainingEvents(sampleGraph(), 'train:pre', classNames(3), 3);
    events.emit(start);
    time.advance((clock = 0)); // first frame at once
    events.emit({ type: 'stage-progress', stage: 'train:pre', done: 1, total: 9, unit: 'it' });
    time.advance((clock = 100));
    events.emit({ type: 'stage-end', stage: 'prepare:a', status: 'cached', seconds: 0 });
    time.advance((clock = 260));
    expect(seen).toEqual([0, 260]); // at 250 ms after the last frame, not 500
    for (const e of rest) events.emit(e);
    time.advance((clock = 400));
    expect(seen).toEqual([0, 260]);
    store.dispose();
  });
});

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frameLines = (frame: string | undefined) => stripVTControlCharacters(frame ?? '').split('\n');

describe('Ink screen', () => {
  afterEach(() => vi.restoreAllMocks());

  it('draws realistic runs in frames of at most 80 columns', async () => {
    for (const { name, view } of scenarios()) {
      const { lastFrame, unmount } = render(<RunScreen view={view} columns={80} rows={24} />);
      const lines = frameLines(lastFrame());
      for (const l of lines) expect(l.length, `${name}: ${l}`).toBeLessThanOrEqual(80);
      expect(lines.length).toBeGreaterThan(view === emptyRunView ? 2 : 5);
      unmount();
    }
  });

  it('draws a few frames for a burst of events, from the live event stream', async () => {
    const events = new RunEvents();
    const { frames, lastFrame, unmount } = render(<RunApp events={events} intervalMs={100} columns={80} rows={30} />);
    await tick(20);
    const before = frames.length;
    for (const e of trainingEvents(sampleGraph(), 'train:pre', classNames(3), 2000)) events.emit(e);
    await tick(250);
    expect(frames.length - before).toBeLessThanOrEqual(3); // 2000+ events, one or two frames
    const frame = frameLines(lastFrame()).join('\n');
    expect(frame).toContain('2000/250000 it');
    expect(frame).toContain('▶   └ train:pre');
    for (const l of frameLines(lastFrame())) expect(l.length).toBeLessThanOrEqual(80);
    unmount();
  });

  it('q stops gracefully through the Ctrl-C path (no stderr line under the screen); a second q aborts with 130', async () => {
    const io = captureIO();
    let hardStops = 0;
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { controller, interrupt, dispose } = interruptHandling(io, () => hardStops++, true);
    const events = new RunEvents();
    const { stdin, lastFrame, unmount } = render(<RunApp events={events} onInterrupt={interrupt} intervalMs={10} columns={80} rows={30} />);
    try {
      events.emit(trainingEvents(sampleGraph(), 'train:pre', classNames(3), 1)[0]);
      await tick(50);
      expect(frameLines(lastFrame()).join('\n')).toContain('q stop');
      stdin.write('x');
      await tick(20);
      expect(controller.signal.aborted).toBe(false);
      stdin.write('q');
      await tick(50);
      expect(controller.signal.aborted).toBe(true);
      expect(exit).not.toHaveBeenCalled();
      expect(io.stderr).toEqual([]);
      expect(frameLines(lastFrame()).join('\n')).toContain('stopping after the current iteration, writing a checkpoint');
      stdin.write('q');
      await tick(20);
      expect(hardStops).toBe(1);
      expect(exit).toHaveBeenCalledWith(130);
    } finally {
      unmount();
      dispose();
    }
  });

  it('Ctrl-C as a key (raw mode) takes the same path', async () => {
    let calls = 0;
    const events = new RunEvents();
    const { stdin, unmount } = render(<RunApp events={events} onInterrupt={() => calls++} intervalMs={10} columns={80} rows={30} />);
    await tick(20);
    stdin.write('\u0003');
    await tick(20);
    expect(calls).toBe(1);
    unmount();
  });
});

describe('non-TTY output', () => {
  it('a terminal gets the screen; a pipe, --no-tui and --json get lines', async () => {
    const { usesScreen } = await import('../../src/cli/commands/run.js');
    const tty = { ...captureIO(), isTTY: true };
    const pipe = captureIO();
    const opts = { tui: true, json: false } as Parameters<typeof usesScreen>[0];
    expect(usesScreen(opts, tty)).toBe(true);
    expect(usesScreen(opts, pipe)).toBe(false);
    expect(usesScreen({ ...opts, tui: false }, tty)).toBe(false);
    expect(usesScreen({ ...opts, json: true }, tty)).toBe(false);
  });

  it('plain lines stand alone: no escape codes or carriage returns, warnings marked, progress throttled', async () => {
    const { attachPlainRenderer } = await import('../../src/ui/plain.js');
    const events = new RunEvents();
    const out: string[] = [];
    let clock = 0;
    attachPlainRenderer(events, { write: (l) => out.push(l), now: () => clock });
    for (const [i, e] of trainingEvents(sampleGraph(), 'train:pre', classNames(3), 1000).entries()) {
      clock = i * 10; // ~10 s in all
      events.emit(e);
    }
    for (const l of out) expect(l).not.toMatch(/[\u001b\r]/);
    expect(out).toContain('[train:pre] warning: mixed precision is not available on tfjs; training in fp32');
    expect(out.filter((l) => l.includes('it ') && l.includes('/250000')).length).toBeLessThanOrEqual(3);
    expect(out.filter((l) => l.startsWith('[train:pre] epoch '))).toHaveLength(3);
  });
});
