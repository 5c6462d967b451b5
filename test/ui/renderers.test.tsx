import { describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { RunEvents, type EvaluationResult, type RunEvent } from '../../src/runtime/events.js';
import { RunApp } from '../../src/ui/ink/App.js';
import { attachJsonRenderer, attachPlainRenderer, progressLine } from '../../src/ui/plain.js';
import { diceTableLines, emptyRunView, etaSeconds, formatDuration, reduceRunView } from '../../src/ui/state.js';
import { sampleGraph } from '../graph/fixture.js';

const result: EvaluationResult = {
  stage: 'evaluate:ft',
  experiment: 'ft',
  classes: [
    { dataset: 'c', name: 'kidney', dice: 0.9, perCase: { c1: 0.9 } },
    { dataset: 'c', name: 'kidney_tumour', dice: 0.5, perCase: { c1: 0.5 } },
  ],
  meanDice: 0.7,
};

function script(): RunEvent[] {
  return [
    { type: 'run-start', graph: sampleGraph(), runDir: '/tmp/run', backend: 'cpu' },
    { type: 'stage-start', stage: 'prepare', kind: 'prepare', description: 'check folders' },
    { type: 'stage-end', stage: 'prepare', status: 'done', seconds: 1.2 },
    { type: 'stage-start', stage: 'train:pre', kind: 'train', description: 'pre-train' },
    { type: 'stage-progress', stage: 'train:pre', done: 3, total: 6, unit: 'it', rate: 1.5, loss: 1.25, lr: 0.01, epoch: 1 },
  ];
}

describe('run view reducer', () => {
  it('tracks stage states and progress from events alone', () => {
    const view = script().reduce(reduceRunView, emptyRunView);
    expect(view.stages.map((s) => s.status)).toEqual(['done', 'pending', 'running', 'pending', 'pending', 'pending']);
    const train = view.stages[2];
    expect([train.done, train.total, train.loss]).toEqual([3, 6, 1.25]);
    expect(etaSeconds(train)).toBeCloseTo(2);
  });

  it('formats durations and the Dice table with the mean line last', () => {
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(125)).toBe('2m05s');
    const lines = diceTableLines(result);
    expect(lines[2]).toMatch(/^c\s+kidney\s+0\.9000$/);
    expect(lines.at(-1)).toBe('mean Dice (ft, 2 classes): 0.7000');
    // One class reads "1 class" (issue #17).
    const one = diceTableLines({ ...result, classes: [result.classes[0]], meanDice: 0.9 });
    expect(one.at(-1)).toBe('mean Dice (ft, 1 class): 0.9000');
  });
});

describe('plain renderer', () => {
  it('prints start/end lines, throttles progress, and prints the Dice table', () => {
    const events = new RunEvents();
    const out: string[] = [];
    let clock = 0;
    attachPlainRenderer(events, { write: (l) => out.push(l), intervalSeconds: 5, now: () => clock });
    for (const e of script()) events.emit(e);
    clock = 1000; // 1 s later: throttled
    events.emit({ type: 'stage-progress', stage: 'train:pre', done: 4, total: 6, unit: 'it' });
    clock = 6000; // 6 s later: printed
    events.emit({ type: 'stage-progress', stage: 'train:pre', done: 5, total: 6, unit: 'it' });
    events.emit({ type: 'evaluation', result });
    const text = out.join('\n');
    expect(text).toContain('[prepare] done in 1s');
    expect(text).not.toContain('it 3/6');
    expect(text).not.toContain('it 4/6');
    expect(text).toContain('it 5/6');
    expect(text).toContain('mean Dice (ft, 2 classes): 0.7000');
  });

  it('formats a progress line with rate, ETA, loss and lr', () => {
    expect(progressLine({ type: 'stage-progress', stage: 's', done: 3, total: 6, unit: 'it', rate: 1.5, loss: 1.25, lr: 0.01, epoch: 1 })).toBe(
      '[s]  epoch 1  it 3/6  50%  1.50 it/s  ETA 2s  loss 1.2500  lr 1.00e-2',
    );
  });

  it('JSON renderer writes one parseable object per event', () => {
    const events = new RunEvents();
    const out: string[] = [];
    attachJsonRenderer(events, (l) => out.push(l));
    for (const e of script()) events.emit(e);
    const parsed = out.map((l) => JSON.parse(l) as { type: string });
    expect(parsed.map((p) => p.type)).toEqual(['run-start', 'stage-start', 'stage-end', 'stage-start', 'stage-progress']);
  });
});

describe('Ink screen', () => {
  it('shows stages, the running progress bar with rate and loss, and the Dice table', async () => {
    const events = new RunEvents();
    const { lastFrame } = render(<RunApp events={events} />);
    await new Promise((r) => setTimeout(r, 20));
    for (const e of script()) events.emit(e);
    events.emit({ type: 'evaluation', result });
    await new Promise((r) => setTimeout(r, 50));
    const frame = lastFrame() ?? '';
    expect(frame).toContain('✔ prepare');
    expect(frame).toContain('▶ train:pre');
    expect(frame).toContain('3/6 it');
    expect(frame).toContain('1.50 it/s');
    expect(frame).toContain('loss 1.2500');
    expect(frame).toContain(' 50%');
    expect(frame).toContain('mean Dice (ft, 2 classes): 0.7000');
  });
});
