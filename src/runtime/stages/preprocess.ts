import type { PreprocessStage } from '../../graph/types.js';
import { preprocessCollection } from '../data/preprocess.js';
import { datasetDir, datasetSpec, type StageContext } from './context.js';

export async function runPreprocess(stage: PreprocessStage, ctx: StageContext): Promise<void> {
  const inputs = stage.datasets.map((name) => {
    const spec = datasetSpec(ctx, name);
    return { name, dir: datasetDir(ctx, spec), classes: spec.classes };
  });
  const result = await preprocessCollection(
    inputs,
    { spacing: stage.spacing, normalization: stage.normalization, split: stage.split },
    (done, total, message) =>
      ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total, unit: 'steps', detail: message }),
  );
  for (const d of result) {
    ctx.state.preprocessed.set(d.name, d);
    const shapes = d.cases.map((c) => c.shape.join('x'));
    ctx.events.emit({
      type: 'stage-log',
      stage: stage.id,
      message: `${d.name}: ${d.train.length} training + ${d.holdout.length} held-out cases, e.g. ${shapes[0] ?? '-'} voxels`,
    });
  }
}
