/**
 * `evaluate:NAME`: cross-validation. Each fold's final model predicts that fold's validation cases
 * (sliding window, the experiment's inference settings); the per-case Dice of all folds together
 * form one result per class (the mean over every case, each evaluated once by the model that did
 * not train on it). Output: `evaluation.json` (the merged result, and each fold's own).
 */
import { join } from 'node:path';
import type { EvaluateStage } from '../../graph/types.js';
import { evaluateModel, meanDefined } from '../eval/dice.js';
import type { ClassMetric, EvaluationResult } from '../events.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkpointOutput, loadCheckpoint, readCheckpointManifest } from '../model/checkpoint.js';
import { inputOf, type StageHandler } from './context.js';
import { foldDatasets, loadCases } from './data.js';

export interface EvaluationFile extends EvaluationResult {
  folds: Array<{ fold: number; model: string; classes: ClassMetric[] }>;
}

export const evaluateHandler: StageHandler<EvaluateStage> = {
  run: async (stage, ctx) => {
    const cases = await loadCases(ctx, stage.data, stage.datasets, ctx.signal);
    const perFold: EvaluationFile['folds'] = [];
    const total = await Promise.all(stage.models.map(async (m) => (await foldDatasets(ctx, cases, stage.split, m.fold)).reduce((s, d) => s + d.holdout.length, 0)));
    const all = total.reduce((a, b) => a + b, 0);
    let before = 0;
    for (const [i, m] of stage.models.entries()) {
      const data = await foldDatasets(ctx, cases, stage.split, m.fold);
      const val = data.flatMap((d) => d.cases.filter((c) => d.holdout.includes(c.id)));
      const dir = join(inputOf(ctx, m.stage).dir, 'checkpoints', 'final');
      const output = checkpointOutput(await readCheckpointManifest(dir));
      const model = await loadCheckpoint(dir);
      try {
        const heads = output.classes.filter((h) => stage.datasets.includes(h.dataset));
        const classes = await evaluateModel(
          model,
          heads,
          val,
          stage.inference,
          (done) => ctx.events.emit({ type: 'stage-progress', stage: stage.id, done: before + done, total: all, unit: 'cases', detail: `fold ${m.fold}` }),
          ctx.signal,
          output,
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
          into = { dataset: c.dataset, name: c.name, dice: null, perCase: {} };
          merged.push(into);
        }
        Object.assign(into.perCase, c.perCase);
      }
    }
    for (const c of merged) c.dice = meanDefined(Object.values(c.perCase));
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
