import { join } from 'node:path';
import type { ReportStage } from '../../graph/types.js';
import { summarizeEvaluation } from '../eval/summary.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { StageContext } from './context.js';

const fmt = (d: number | null) => (d === null ? 'n/a' : d.toFixed(4));

/**
 * Writes metrics.json: every evaluation's per-class Dice, its class and dataset averages and the
 * averages of the report's class groups (class sets and tags such as `cancer`), and stage timings.
 */
export async function runReport(stage: ReportStage, ctx: StageContext): Promise<void> {
  const evaluations = ctx.state.results.filter((r) => stage.evaluations.includes(r.stage));
  const summaries = evaluations.map((r) => summarizeEvaluation(r, stage.classSets ?? []));
  for (const s of summaries) {
    const groups = s.groups.map((g) => `${g.name} ${fmt(g.dice)} (${g.classes})`).join(', ');
    ctx.events.emit({
      type: 'stage-log',
      stage: stage.id,
      message: `${s.stage}: class average ${fmt(s.classAverage)}, dataset average ${fmt(s.datasetAverage)}${groups ? `; ${groups}` : ''}`,
    });
  }
  const metrics = {
    experiment: ctx.graph.source.experiment,
    source: ctx.graph.source.file,
    evaluations,
    summaries,
    stageSeconds: ctx.state.timings,
    writtenAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(ctx.runDir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `metrics written to ${join(ctx.runDir, 'metrics.json')}` });
}
