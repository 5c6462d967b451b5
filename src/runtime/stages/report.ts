/**
 * `report:NAME`: metrics.json, every evaluation's per-class Dice (and HD95), its class and dataset
 * averages and the averages of the report's class groups (class sets and tags such as `cancer`),
 * the seconds each stage upstream took (read from their store manifests) and the software versions
 * (NaN as null, infinity as "Infinity"); then the HTML report (report.html, report.md) with each
 * upstream training's history and plans. The run folder gets copies of the three.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportStage } from '../../graph/types.js';
import { stringify as toYaml } from 'yaml';
import { stringifyMetrics, summarizeEvaluation } from '../eval/summary.js';
import { writeFileAtomic } from '../io/atomic.js';
import { trainedStages, type MetricsFile } from '../report/load.js';
import { writeReport } from '../report/index.js';
import { softwareVersions } from '../version.js';
import { inputOf, type StageContext, type StageHandler } from './context.js';
import type { EvaluationFile } from './evaluate.js';

const fmt = (d: number | null | undefined) => (d === null || d === undefined ? 'n/a' : d.toFixed(4));

/** Every stage upstream of the report, from the store (walking manifests by key): its seconds and entry folder. */
async function upstream(ctx: StageContext): Promise<Map<string, { seconds: number; dir: string }>> {
  const out = new Map<string, { seconds: number; dir: string }>();
  const seen = new Set<string>();
  const queue = [...ctx.inputs.values()].map((i) => i.manifest.key);
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = await ctx.store.lookup(key, { verifySizes: false });
    if (!entry) continue;
    out.set(entry.manifest.stage, { seconds: entry.manifest.seconds, dir: ctx.store.entryDir(key) });
    queue.push(...entry.manifest.material.inputs.map((i) => i.key));
  }
  return out;
}

export const reportHandler: StageHandler<ReportStage> = {
  run: async (stage, ctx) => {
    const evaluations: EvaluationFile[] = [];
    for (const id of stage.evaluations) {
      evaluations.push(JSON.parse(await readFile(join(inputOf(ctx, id).dir, 'evaluation.json'), 'utf8')) as EvaluationFile);
    }
    const summaries = evaluations.map((r) => summarizeEvaluation(r, stage.classSets ?? []));
    for (const s of summaries) {
      const groups = s.groups.map((g) => `${g.name} ${fmt(g.dice)} (${g.classes} class${g.classes === 1 ? '' : 'es'})`).join(', ');
      const hd = s.hd95ClassAverage !== undefined ? `; HD95 class average ${s.hd95ClassAverage === Infinity ? 'inf' : fmt(s.hd95ClassAverage)} mm` : '';
      ctx.events.emit({
        type: 'stage-log',
        stage: stage.id,
        message: `${s.stage}: class average ${fmt(s.classAverage)}, dataset average ${fmt(s.datasetAverage)}${groups ? `; ${groups}` : ''}${hd}`,
      });
    }
    const before = await upstream(ctx);
    const metrics: MetricsFile = {
      experiment: stage.experiment,
      source: ctx.graph.source.file,
      evaluations,
      summaries,
      stageSeconds: Object.fromEntries([...before].map(([id, u]) => [id, u.seconds])),
      writtenAt: new Date().toISOString(),
      versions: softwareVersions(),
    };
    await writeFileAtomic(join(ctx.workDir, 'metrics.json'), `${stringifyMetrics(metrics, 2)}\n`);
    // The HTML report of this experiment: its stages, and the trainings' history and plans from the store.
    const graph = { ...ctx.graph, stages: ctx.graph.stages.filter((s) => s.id === stage.id || before.has(s.id)) };
    const trained = await trainedStages(graph, (id) => (before.has(id) ? join(before.get(id)!.dir, 'checkpoints', 'final') : null));
    await writeReport([{ dir: ctx.workDir, name: stage.experiment, graph, graphText: toYaml(graph), metrics, trained }], join(ctx.workDir, 'report.html'));
    const first = summaries[0];
    return { summary: { classAverage: first?.classAverage ?? null, datasetAverage: first?.datasetAverage ?? null } };
  },
};
