import { join } from 'node:path';
import type { ReportStage } from '../../graph/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { StageContext } from './context.js';

/** Writes metrics.json: every evaluation's per-class and mean Dice, and the stage timings. */
export async function runReport(stage: ReportStage, ctx: StageContext): Promise<void> {
  const evaluations = ctx.state.results.filter((r) => stage.evaluations.includes(r.stage));
  const metrics = {
    experiment: ctx.graph.source.experiment,
    source: ctx.graph.source.file,
    evaluations,
    stageSeconds: ctx.state.timings,
    writtenAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(ctx.runDir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `metrics written to ${join(ctx.runDir, 'metrics.json')}` });
}
