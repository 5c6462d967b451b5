import { join } from 'node:path';
import type { ReportStage } from '../../graph/types.js';
import { stringifyMetrics, summarizeEvaluation } from '../eval/summary.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadRun } from '../report/load.js';
import { writeReport } from '../report/index.js';
import { softwareVersions } from '../version.js';
import type { StageContext } from './context.js';

const fmt = (d: number | null | undefined) => (d === null || d === undefined ? 'n/a' : d.toFixed(4));

/**
 * Writes metrics.json (every evaluation's per-class Dice and HD95, its class and dataset averages,
 * the averages of the report's class groups, stage timings, software versions; NaN as null and
 * infinity as "Infinity"), then the run's HTML report (report.html, report.md).
 */
export async function runReport(stage: ReportStage, ctx: StageContext): Promise<void> {
  const evaluations = ctx.state.results.filter((r) => stage.evaluations.includes(r.stage));
  const summaries = evaluations.map((r) => summarizeEvaluation(r, stage.classSets ?? []));
  for (const s of summaries) {
    const groups = s.groups.map((g) => `${g.name} ${fmt(g.dice)} (${g.classes})`).join(', ');
    const hd = s.hd95ClassAverage !== undefined ? `; HD95 class average ${s.hd95ClassAverage === Infinity ? 'inf' : fmt(s.hd95ClassAverage)} mm` : '';
    ctx.events.emit({
      type: 'stage-log',
      stage: stage.id,
      message: `${s.stage}: class average ${fmt(s.classAverage)}, dataset average ${fmt(s.datasetAverage)}${groups ? `; ${groups}` : ''}${hd}`,
    });
  }
  const metrics = {
    experiment: ctx.graph.source.experiment,
    source: ctx.graph.source.file,
    evaluations,
    summaries,
    stageSeconds: ctx.state.timings,
    writtenAt: new Date().toISOString(),
    versions: softwareVersions(),
  };
  await writeFileAtomic(join(ctx.runDir, 'metrics.json'), `${stringifyMetrics(metrics, 2)}\n`);
  ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `metrics written to ${join(ctx.runDir, 'metrics.json')}` });
  const { html, markdown } = await writeReport([await loadRun(ctx.runDir)], join(ctx.runDir, 'report.html'));
  ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `report written to ${html} (summary: ${markdown})` });
}
