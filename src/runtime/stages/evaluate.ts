/**
 * `evaluate:NAME`: cross-validation. Each fold's final model predicts that fold's validation cases
 * (sliding window, the experiment's inference settings); the per-case Dice of all folds together
 * form one result per class (the mean over every case, each evaluated once by the model that did
 * not train on it). Predictions are exported back to each case's file grid and compared there with
 * its label file (as nnU-Net evaluates): Dice, and HD95 in mm when the graph's `metrics` asks for it.
 * Test-time mirroring flips only the axes the training mirrored (nnU-Net's allowed mirroring axes).
 * Output: `evaluation.json` (the merged result, and each fold's own).
 */
import { join } from 'node:path';
import type { EvaluateStage } from '../../graph/types.js';
import { readNiftiLabel } from '../data/nifti/read.js';
import { loadRawDataset } from '../data/raw/dataset.js';
import type { PreprocessedCase } from '../data/types.js';
import { evaluateModel, type ReferenceLabel } from '../eval/model.js';
import { meanOf } from '../eval/summary.js';
import { trainingMirrorAxes } from '../infer/plans.js';
import type { ClassMetric, EvaluationResult } from '../events.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkpointOutput, loadCheckpoint, readCheckpointManifest } from '../model/checkpoint.js';
import { datasetDir, datasetSpec, inputOf, type StageContext, type StageHandler } from './context.js';
import { foldDatasets, loadCases } from './data.js';

export interface EvaluationFile extends EvaluationResult {
  folds: Array<{ fold: number; model: string; classes: ClassMetric[] }>;
}

/** Each case's label file in the canonical grid of its image file (null: none, or another grid). */
async function referenceLabels(ctx: StageContext, datasets: readonly string[]): Promise<(c: PreprocessedCase) => Promise<ReferenceLabel | null>> {
  const labelPaths = new Map<string, string>();
  for (const name of datasets) {
    const raw = await loadRawDataset(datasetDir(ctx, datasetSpec(ctx, name)), { checkContents: false });
    for (const c of raw.cases) labelPaths.set(`${name}/${c.id}`, c.labelPath);
  }
  return async (c) => {
    const path = labelPaths.get(`${c.dataset}/${c.id}`);
    if (!path) return null;
    const { volume } = await readNiftiLabel(path, { orientation: 'ras' });
    const expected = c.source?.canonicalShape;
    if (expected && volume.shape.some((d, i) => d !== expected[i])) return null;
    return { label: volume.data, shape: volume.shape, spacing: volume.spacing };
  };
}

export const evaluateHandler: StageHandler<EvaluateStage> = {
  run: async (stage, ctx) => {
    const cases = await loadCases(ctx, stage.data, stage.datasets, ctx.signal);
    const perFold: EvaluationFile['folds'] = [];
    const total = await Promise.all(stage.models.map(async (m) => (await foldDatasets(ctx, cases, stage.split, m.fold)).reduce((s, d) => s + d.holdout.length, 0)));
    const all = total.reduce((a, b) => a + b, 0);
    const reference = await referenceLabels(ctx, stage.datasets);
    let before = 0;
    for (const [i, m] of stage.models.entries()) {
      const data = await foldDatasets(ctx, cases, stage.split, m.fold);
      const val = data.flatMap((d) => d.cases.filter((c) => d.holdout.includes(c.id)));
      const dir = join(inputOf(ctx, m.stage).dir, 'checkpoints', 'final');
      const output = checkpointOutput(await readCheckpointManifest(dir));
      const model = await loadCheckpoint(dir);
      try {
        const heads = output.classes.filter((h) => stage.datasets.includes(h.dataset));
        const trained = ctx.graph.stages.find((s) => s.id === m.stage);
        const mirrorAxes = trained && (trained.kind === 'train' || trained.kind === 'finetune') ? trainingMirrorAxes(trained) : [0, 1, 2];
        const classes = await evaluateModel(
          model,
          heads,
          val,
          { ...stage.inference, mirror: stage.inference.mirror && mirrorAxes.length > 0, mirrorAxes },
          (done: number) => ctx.events.emit({ type: 'stage-progress', stage: stage.id, done: before + done, total: all, unit: 'cases', detail: `fold ${m.fold}` }),
          ctx.signal,
          { metrics: stage.metrics ?? ['dice'], reference, output },
        );
        perFold.push({ fold: m.fold, model: m.stage, classes });
      } finally {
        model.dispose();
      }
      before += total[i];
    }
    // One result over every fold's validation cases.
    const merged: ClassMetric[] = [];
    for (const fold of perFold) {
      for (const c of fold.classes) {
        let into = merged.find((x) => x.dataset === c.dataset && x.name === c.name);
        if (!into) {
          into = { dataset: c.dataset, name: c.name, dice: null, perCase: {}, ...(c.perCaseHd95 ? { hd95: null, perCaseHd95: {} } : {}) };
          merged.push(into);
        }
        Object.assign(into.perCase, c.perCase);
        if (c.perCaseHd95 && into.perCaseHd95) Object.assign(into.perCaseHd95, c.perCaseHd95);
      }
    }
    for (const c of merged) {
      c.dice = meanOf(Object.values(c.perCase));
      if (c.perCaseHd95) c.hd95 = meanOf(Object.values(c.perCaseHd95));
    }
    const defined = merged.map((c) => c.dice).filter((d): d is number => d !== null);
    const result: EvaluationResult = {
      stage: stage.id,
      experiment: stage.experiment,
      classes: merged,
      meanDice: defined.length > 0 ? defined.reduce((a, b) => a + b, 0) / defined.length : null,
    };
    const file: EvaluationFile = { ...result, folds: perFold };
    await writeFileAtomic(join(ctx.workDir, 'evaluation.json'), `${JSON.stringify(file, null, 1)}\n`);
    ctx.events.emit({ type: 'evaluation', result });
    return { summary: { meanDice: result.meanDice, cases: all, folds: stage.models.map((m) => m.fold) } };
  },
};
