import { describe, expect, it } from 'vitest';
import { RunEvents, type EvaluationResult, type RunEvent } from '../../src/runtime/events.js';
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
    { type: 'run-start', graph: sampleGraph(), runDirs: { ft: '/tmp/run' }, backend: 'cpu', store: '/tmp/store', jobs: 1 },
    { type: 'stage-start', stage: 'prepare:a', kind: 'prepare', description: 'check folders' },
    { type: 'stage-end', stage: 'prepare:a', status: 'done', seconds: 1.2, key: 'a'.repeat(64) },
    { type: 'stage-end', stage: 'prepare:b', status: 'cached', seconds: 0, key: 'b'.repeat(64) },
    { type: 'stage-start', stage: 'train:pre', kind: 'train', description: 'pre-train', key: 'c'.repeat(64) },
    { type: 'stage-progress', stage: 'train:pre', done: 3, total: 6, unit: 'it', rate: 1.5, loss: 1.25, lr: 0.01, epoch: 1 },
  ];
}

describe('run view reducer', () => {
  it('tracks stage states and progress from events alone', () => {
    const view = script().reduce(reduceRunView, emptyRunView);
    expect(view.stages.map((s) => s.status)).toEqual(['done', 'cached', 'pending', 'pending', 'running', 'pending', 'pending', 'pending', 'pending']);
    expect(view.runDir).toBe('/tmp/run');
    const train = view.stages[4];
    expect([train.done, train.total, train.loss, train.key]).toEqual([3, 6, 1.25, 'c'.repeat(64)]);
    expect(etaSeconds(train)).toBeCloseTo(2);
  });

  it('keeps the last epoch, checkpoint, cache explanation and summary of a stage', () => {
    const record = { epoch: 2, phase: 0, lr: 0.01, meanLoss: 0.5, meanPseudoDice: 0.4, ema: 0.3, seconds: 1 };
    const view = [
      ...script(),
      { type: 'stage-cache', stage: 'train:pre', key: 'c'.repeat(64), cached: false, changes: ['batch: 2 -> 4'] },
      { type: 'epoch', stage: 'train:pre', record, best: true },
      { type: 'checkpoint', stage: 'train:pre', kind: 'latest', epoch: 3 },
      { type: 'stage-end', stage: 'train:pre', status: 'interrupted', seconds: 9, key: 'c'.repeat(64), error: 'interrupted at epoch 3' },
      { type: 'run-end', status: 'interrupted', runDirs: { ft: '/tmp/run' }, seconds: 10, results: [] },
    ].reduce((v, e) => reduceRunView(v, e as RunEvent), emptyRunView);
    const train = view.stages.find((s) => s.id === 'train:pre')!;
    expect(train).toMatchObject({ status: 'interrupted', lastEpoch: record, checkpoint: { kind: 'latest', epoch: 3 }, cacheChanges: ['batch: 2 -> 4'], error: 'interrupted at epoch 3' });
    expect(view.finished).toEqual({ status: 'interrupted', seconds: 10 });
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
    expect(text).toContain('[prepare:a] done in 1s');
    expect(text).toContain('[prepare:b] cached (key bbbbbbbbbbbb)');
    expect(text).not.toContain('it 3/6');
    expect(text).not.toContain('it 4/6');
    expect(text).toContain('it 5/6');
    expect(text).toContain('mean Dice (ft, 2 classes): 0.7000');
  });

  it('prints epochs with the validation pseudo-Dice, checkpoints, interruptions and why a stage is not cached', () => {
    const events = new RunEvents();
    const out: string[] = [];
    attachPlainRenderer(events, { write: (l) => out.push(l) });
    events.emit({ type: 'stage-cache', stage: 'train:pre', key: 'd'.repeat(64), cached: false, changes: ['schedule.epochs: 15 -> 30'] });
    events.emit({ type: 'epoch', stage: 'train:pre', best: true, record: { epoch: 3, phase: 0, lr: 0.005, meanLoss: 0.25, pseudoDice: { 'a/liver': 0.5 }, meanPseudoDice: 0.5, ema: 0.45, seconds: 2 } });
    events.emit({ type: 'checkpoint', stage: 'train:pre', kind: 'latest', epoch: 4 });
    events.emit({ type: 'stage-end', stage: 'train:pre', status: 'interrupted', seconds: 3, error: 'interrupted at epoch 4' });
    events.emit({ type: 'stage-end', stage: 'evaluate:ft', status: 'skipped', seconds: 0, error: "needs 'train:pre', which was interrupted" });
    events.emit({ type: 'run-end', status: 'interrupted', runDirs: { ft: '/tmp/run' }, seconds: 3, results: [] });
    expect(out).toEqual([
      '[train:pre] not cached (key dddddddddddd): schedule.epochs: 15 -> 30',
      '[train:pre] epoch 3  loss 0.2500  lr 5.00e-3  pseudo-Dice 0.5000 (ema 0.4500, best)  2s',
      '[train:pre] checkpoint written (resumes at epoch 4)',
      '[train:pre] interrupted in 3s: interrupted at epoch 4',
      "[evaluate:ft] skipped: needs 'train:pre', which was interrupted",
      'mtc run: interrupted in 3s; results in /tmp/run',
    ]);
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
    expect(parsed.map((p) => p.type)).toEqual(['run-start', 'stage-start', 'stage-end', 'stage-end', 'stage-start', 'stage-progress']);
  });
});
