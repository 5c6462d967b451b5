import type { EvaluateStage } from '../../graph/types.js';
import { evaluateModel } from '../eval/dice.js';
import type { EvaluationResult } from '../events.js';
import { checkpointOutput, loadCheckpoint, readCheckpointManifest } from '../model/checkpoint.js';
import { preprocessedFor, type StageContext } from './context.js';

export async function runEvaluate(stage: EvaluateStage, ctx: StageContext): Promise<void> {
  const dir = ctx.state.checkpoints.get(stage.model);
  if (!dir) throw new Error(`stage '${stage.model}' produced no checkpoint to evaluate`);
  const datasets = preprocessedFor(ctx, stage.datasets);
  const cases = datasets.flatMap((d) => d.cases.filter((c) => d.holdout.includes(c.id)));
  const output = checkpointOutput(await readCheckpointManifest(dir));
  const model = await loadCheckpoint(dir);
  try {
    const heads = output.classes.filter((h) => stage.datasets.includes(h.dataset));
    const classes = await evaluateModel(
      model,
      heads,
      cases,
      stage.inference,
      (done, total) => ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total, unit: 'cases' }),
      ctx.signal,
      output,
    );
    const defined = classes.map((c) => c.dice).filter((d): d is number => d !== null);
    const result: EvaluationResult = {
      stage: stage.id,
      experiment: stage.experiment,
      classes,
      meanDice: defined.length > 0 ? defined.reduce((a, b) => a + b, 0) / defined.length : null,
    };
    ctx.state.results.push(result);
    ctx.events.emit({ type: 'evaluation', result });
  } finally {
    model.dispose();
  }
}
