/** Run folders for report tests: graph.yaml, metrics.json, and each training's history (stages/SLUG/checkpoints/final/). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { stringifyMetrics } from '../../../src/runtime/eval/summary.js';
import type { ClassMetric, EvaluationResult } from '../../../src/runtime/events.js';
import { buildHistory } from '../../../src/runtime/train/history-file.js';

const CLASSES = [
  ['liver', 'liver'],
  ['liver', 'tumour'],
  ['kidney', 'kidney'],
] as const;

/** Per-case Dice of a run: deterministic, `shift` moves every value. */
function evaluation(experiment: string, shift: number): EvaluationResult {
  const classes: ClassMetric[] = CLASSES.map(([dataset, name], k) => {
    const perCase: Record<string, number | null> = {};
    const perCaseHd95: Record<string, number | null> = {};
    for (let i = 0; i < 8; i++) {
      const v = Math.min(1, Math.max(0, 0.55 + 0.05 * k + 0.04 * ((i * 7 + k * 3) % 5) + shift + (i === 3 ? 0.02 * k : 0)));
      perCase[`${dataset}_${i}`] = name === 'tumour' && i === 7 ? null : v;
      perCaseHd95[`${dataset}_${i}`] = name === 'tumour' && i === 7 ? null : name === 'tumour' && i === 6 ? Infinity : 10 - 8 * v;
    }
    const vals = Object.values(perCase).filter((v): v is number => v !== null);
    return { dataset, name, dice: vals.reduce((a, b) => a + b, 0) / vals.length, perCase, hd95: Infinity, perCaseHd95 };
  });
  return { stage: `evaluate:${experiment}`, experiment, classes, meanDice: classes.reduce((a, c) => a + (c.dice ?? 0), 0) / classes.length };
}

/** A run folder with a pre-training and a fine-tuning stage (or one stage when `scratch`). */
export async function writeRun(dir: string, experiment: string, opts: { shift?: number; scratch?: boolean; pseudoDice?: boolean } = {}): Promise<void> {
  const phases = [
    { trains: 'heads' as const, epochs: 3, lr: { kind: 'linear' as const, from: 0, to: 0.01 } },
    { trains: 'all' as const, epochs: 9, lr: { kind: 'poly' as const, initial: 0.01, exponent: 0.9 } },
  ];
  const stages = [
    ...(opts.scratch ? [] : [{ id: 'train:pre', kind: 'train', deps: [], experiment: 'pre', datasets: ['a', 'b', 'c'] }]),
    { id: opts.scratch ? `train:${experiment}` : `finetune:${experiment}`, kind: opts.scratch ? 'train' : 'finetune', deps: [], experiment, datasets: ['liver', 'kidney'], ...(opts.scratch ? {} : { from: 'train:pre' }) },
    { id: `evaluate:${experiment}`, kind: 'evaluate', deps: [], experiment },
  ];
  const graph = { schemaVersion: 2, source: { file: 'x.mt', experiments: [experiment] }, seed: 1, datasets: [], stages };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'graph.yaml'), stringify(graph));
  for (const s of stages.filter((x) => x.kind !== 'evaluate')) {
    // as mtc run's run folder: stages/SLUG (a link to the store entry) with checkpoints/final/
    const ckpt = join(dir, 'stages', s.id.replace(/[:/@]/g, '-'), 'checkpoints', 'final');
    await mkdir(ckpt, { recursive: true });
    const records = Array.from({ length: 12 }, (_, e) => ({
      epoch: e,
      phase: e < 3 ? 0 : 1,
      lr: e < 3 ? 0.01 * ((e + 1) / 3) : 0.01 * (1 - (e - 3) / 9) ** 0.9 + 1e-5,
      meanLoss: 1.5 * Math.exp(-e / 4) - 0.4,
      seconds: 1,
      ...(opts.pseudoDice ? { meanPseudoDice: 0.3 + 0.5 * (1 - Math.exp(-e / 3)) } : {}),
    }));
    await writeFile(join(ckpt, 'history.json'), JSON.stringify(buildHistory(s.id, s.experiment, phases, 25, records, 42)));
  }
  const ev = evaluation(experiment, opts.shift ?? 0);
  const metrics = {
    experiment,
    source: 'x.mt',
    evaluations: [ev],
    summaries: [{ stage: ev.stage, classAverage: ev.meanDice, datasetAverage: ev.meanDice, groups: [{ name: 'tag:cancer', dice: ev.classes[1].dice, classes: 1 }], hd95ClassAverage: Infinity }],
    stageSeconds: { 'train:pre': 12.5, [`evaluate:${experiment}`]: 1.5 },
    writtenAt: '2026-12-01T00:00:00.000Z',
    versions: { mtc: '0.1.0', node: 'v20', tfjs: '4.22.0', backend: 'cpu', graphSchema: 1 },
  };
  await writeFile(join(dir, 'metrics.json'), stringifyMetrics(metrics, 2));
}
