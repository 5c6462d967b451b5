import { describe, expect, it } from 'vitest';
import { RunEvents, type RunEvent } from '../../src/runtime/events.js';
import { attachPlainRenderer } from '../../src/ui/plain.js';
import { diceTableLines, emptyRunView, reduceRunView } from '../../src/ui/state.js';

const EVENTS: RunEvent[] = [
  { type: 'job-start', command: 'infer', title: 'quickstart (runs/q)', backend: 'cpu', folder: 'out', activities: ['infer:a', 'infer:b'] },
  { type: 'stage-start', stage: 'infer:a', kind: 'infer', description: 'a.nii.gz -> out/a' },
  { type: 'stage-progress', stage: 'infer:a', done: 4, total: 8, unit: 'tiles', rate: 2 },
  { type: 'stage-end', stage: 'infer:a', status: 'done', seconds: 3 },
  { type: 'job-end', command: 'infer', status: 'done', folder: 'out', seconds: 5 },
];

describe('mtc infer progress in the renderers', () => {
  it('the view lists the inputs up front and follows each like a run stage', () => {
    let view = emptyRunView;
    for (const e of EVENTS.slice(0, 3)) view = reduceRunView(view, e);
    expect(view.command).toBe('infer');
    expect(view.stages.map((s) => [s.id, s.status])).toEqual([
      ['infer:a', 'running'],
      ['infer:b', 'pending'],
    ]);
    expect(view.stages[0]).toMatchObject({ done: 4, total: 8, unit: 'tiles', rate: 2 });
    for (const e of EVENTS.slice(3)) view = reduceRunView(view, e);
    expect(view.finished).toEqual({ status: 'done', seconds: 5 });
    // a stage nobody announced is added when it starts
    expect(reduceRunView(emptyRunView, EVENTS[1]).stages.map((s) => s.id)).toEqual(['infer:a']);
  });

  it('plain lines for pipes and CI', () => {
    const lines: string[] = [];
    const events = new RunEvents();
    attachPlainRenderer(events, { write: (l) => lines.push(l), intervalSeconds: 0 });
    for (const e of EVENTS) events.emit(e);
    expect(lines[0]).toBe('mtc infer: quickstart (runs/q)');
    expect(lines).toContain('[infer:a]  tiles 4/8  50%  2.00 tiles/s  ETA 2s');
    expect(lines.at(-1)).toBe('mtc infer: done in 5s; outputs in out');
  });

  it('the Dice table shows HD95 when the evaluation computed it', () => {
    const lines = diceTableLines({
      stage: 'evaluate:x',
      experiment: 'x',
      meanDice: 0.8,
      classes: [
        { dataset: 'k', name: 'kidney', dice: 0.9, perCase: {}, hd95: 2.5 },
        { dataset: 'k', name: 'tumour', dice: 0.7, perCase: {}, hd95: Infinity },
      ],
    });
    expect(lines[0]).toMatch(/dataset\s+class\s+Dice\s+HD95 mm/);
    expect(lines[3]).toMatch(/tumour\s+0\.7000\s+inf$/);
  });
});
