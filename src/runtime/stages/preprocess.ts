import type { PreprocessStage } from '../../graph/types.js';
import { defaultCacheDir } from '../data/cache/cache.js';
import { preprocessCollectionDetailed } from '../data/preprocess/collection.js';
import { datasetDir, datasetSpec, type StageContext } from './context.js';

/**
 * The preprocessing cache folder: `ctx.cacheDir` when the executor sets one (e.g. from `mtc run
 * --cache DIR`), null to disable caching, else `<data root>/.mtc-cache`.
 */
function cacheDirOf(ctx: StageContext): string | undefined {
  if (ctx.cacheDir === null) return undefined;
  return ctx.cacheDir ?? defaultCacheDir(ctx.dataRoot);
}

export async function runPreprocess(stage: PreprocessStage, ctx: StageContext): Promise<void> {
  const inputs = stage.datasets.map((name) => {
    const spec = datasetSpec(ctx, name);
    return { name, dir: datasetDir(ctx, spec), classes: spec.classes };
  });
  const cacheDir = cacheDirOf(ctx);
  const result = await preprocessCollectionDetailed(
    inputs,
    { spacing: stage.spacing, normalization: stage.normalization, split: stage.split, cacheDir },
    (done, total, message) =>
      ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total, unit: 'steps', detail: message }),
  );
  for (const [name, st] of Object.entries(result.stats)) ctx.state.statistics.set(name, st);
  for (const d of result.datasets) {
    ctx.state.preprocessed.set(d.name, d);
    const shapes = d.cases.map((c) => c.shape.join('x'));
    ctx.events.emit({
      type: 'stage-log',
      stage: stage.id,
      message: `${d.name}: ${d.train.length} training + ${d.holdout.length} held-out cases, e.g. ${shapes[0] ?? '-'} voxels`,
    });
  }
  const s = Object.values(result.stats)[0];
  if (s) {
    ctx.events.emit({
      type: 'stage-log',
      stage: stage.id,
      message: `CT normalisation (${stage.normalization.scope}): clip [${s.p005.toFixed(1)}, ${s.p995.toFixed(1)}], mean ${s.mean.toFixed(2)}, std ${s.std.toFixed(2)}`,
    });
  }
  if (cacheDir) {
    const n = result.datasets.reduce((a, d) => a + d.cases.length, 0);
    ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `preprocessing cache ${cacheDir}: ${result.cacheHits} of ${n} cases reused` });
  }
}
