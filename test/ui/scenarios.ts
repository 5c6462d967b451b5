import type { RuntimeGraph, Stage } from '../../src/graph/types.js';
import type { EpochRecord, RunEvent } from '../../src/runtime/events.js';
import { sampleGraph } from '../graph/fixture.js';

/**
 * Realistic event sequences for the screen's tests: the runtime's own event shapes, in the order
 * the local executor emits them.
 */

/** A graph of `n` experiments like the paper's baselines: shared prepare/preprocess, then a long-named train/evaluate pair each. */
export function manyStageGraph(n: number, classes = 4): RuntimeGraph {
  const base = sampleGraph();
  const train = base.stages.find((s) => s.id === 'train:pre')!;
  const evaluate = base.stages.find((s) => s.id === 'evaluate:ft')!;
  const stages: Stage[] = [
    { id: 'prepare:Dataset003_Liver', deps: [], kind: 'prepare', datasets: ['a'] } as Stage,
    { id: 'preprocess:baselines_collection_3d_fullres', deps: ['prepare:Dataset003_Liver'], kind: 'preprocess' } as unknown as Stage,
  ];
  for (let i = 0; i < n; i++) {
    const name = `baseline_Dataset${String(i).padStart(3, '0')}_TotalSegmentatorV2_fold${i % 5}_extra_long_name`;
    stages.push({ ...train, id: `train:${name}`, deps: ['preprocess:baselines_collection_3d_fullres'] } as Stage);
    stages.push({ ...evaluate, id: `evaluate:${name}`, deps: [`train:${name}`] } as Stage);
  }
  void classes;
  return { ...base, source: { ...base.source, experiments: Array.from({ length: n }, (_, i) => `baseline_${i}`) }, stages };
}

export function classNames(n: number): string[] {
  const names = ['liver', 'spleen', 'kidney_left', 'kidney_right', 'gallbladder', 'esophagus', 'stomach', 'aorta', 'inferior_vena_cava', 'portal_vein_and_splenic_vein', 'pancreas', 'adrenal_gland_right', 'adrenal_gland_left', 'duodenum', 'urinary_bladder'];
  return Array.from({ length: n }, (_, i) => `Dataset${String(7 + (i % 3)).padStart(3, '0')}/${names[i % names.length]}${i >= names.length ? `_${i}` : ''}`);
}

export function epochRecord(epoch: number, classes: string[], dice = (i: number) => (i % 4 === 3 ? null : ((i * 37) % 100) / 100)): EpochRecord {
  const pseudoDice = Object.fromEntries(classes.map((c, i) => [c, dice(i)]));
  const defined = Object.values(pseudoDice).filter((v): v is number => v !== null);
  const mean = defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null;
  return { epoch, phase: 0, lr: 0.01 * (1 - epoch / 1000) ** 0.9, meanLoss: 1 / (epoch + 1), pseudoDice, meanPseudoDice: mean, ema: mean === null ? null : mean * 0.9, seconds: 312.5 };
}

/** A training in its 4th epoch: progress with loss, memory, epochs with many classes, a checkpoint, a warning. */
export function trainingEvents(graph: RuntimeGraph, stage: string, classes: string[], iterations = 400): RunEvent[] {
  const events: RunEvent[] = [
    { type: 'run-start', graph, runDirs: Object.fromEntries(graph.source.experiments.map((e) => [e, `/home/researcher/projects/multitalent/runs/${e}/8f3a2c1d9e7b6a5f4e3d2c1b0a998877`])), backend: 'cpu (native kernels, avx512)', store: '/home/researcher/runs/.store', jobs: 1 },
  ];
  for (const s of graph.stages) {
    if (s.id === stage) break;
    if (s.kind === 'prepare') events.push({ type: 'stage-end', stage: s.id, status: 'cached', seconds: 0, key: 'b'.repeat(64) });
    else if (s.kind === 'preprocess') {
      events.push({ type: 'stage-start', stage: s.id, kind: s.kind, description: 'preprocess', key: 'c'.repeat(64) });
      events.push({ type: 'stage-end', stage: s.id, status: 'done', seconds: 83.2, key: 'c'.repeat(64) });
    }
  }
  events.push({ type: 'stage-start', stage, kind: 'train', description: 'train a 3D U-Net on 2 datasets', key: 'd'.repeat(64) });
  events.push({ type: 'stage-log', stage, message: 'mixed precision is not available on tfjs; training in fp32', level: 'warning' });
  for (let e = 0; e < 3; e++) {
    events.push({ type: 'epoch', stage, record: epochRecord(e, classes), best: e === 2 });
    events.push({ type: 'checkpoint', stage, kind: 'latest', epoch: e + 1 });
  }
  for (let it = 1; it <= iterations; it++) {
    events.push({ type: 'stage-progress', stage, done: it, total: 1000 * 250, unit: 'it', rate: 3.21, loss: 1.2 * Math.exp(-it / 150) + 0.1 * Math.sin(it), lr: 0.00987, epoch: 3, memory: { rss: 1.8 * 1024 ** 3, tensors: 412 * 1024 ** 2 } });
  }
  return events;
}
