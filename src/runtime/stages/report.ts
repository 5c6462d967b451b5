/**
 * `report:NAME`: metrics.json, every evaluation's per-class Dice, its class and dataset averages
 * and the averages of the report's class groups (class sets and tags such as `cancer`), with the
 * seconds each stage upstream took (read from their store manifests).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportStage } from '../../graph/types.js';
import { summarizeEvaluation } from '../eval/summary.js';
import { writeFileAtomic } from '../io/atomic.js';
import { inputOf, type StageContext, type StageHandler } from './context.js';
import type { EvaluationFile } from './evaluate.js';

const fmt = (d: number | null) => (d === null ? 'n/a' : d.toFixed(4));

/** Seconds of every stage upstream of the report, from the store (walking manifests by key). */
async function upstreamSeconds(ctx: StageContext): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const seen = new Set<string>();
  const queue = [...ctx.inputs.values()].map((i) => i.manifest.key);
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = await ctx.store.lookup(key, { verifySizes: false });
    if (!entry) continue;
    out[entry.manifest.stage] = entry.manifest.seconds;
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
      ctx.events.emit({
        type: 'stage-log',
        stage: stage.id,
        message: `${s.stage}: class average ${fmt(s.classAverage)}, dataset average ${fmt(s.datasetAverage)}${groups ? `; ${groups}` : ''}`,
      });
    }
    const metrics = {
      experiment: stage.experiment,
      source: ctx.graph.source.file,
      evaluations,
      summaries,
      stageSeconds: await upstreamSeconds(ctx),
    };
    await writeFileAtomic(join(ctx.workDir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    const first = summaries[0];
    return { summary: { classAverage: first?.classAverage ?? null, datasetAverage: first?.datasetAverage ?? null } };
  },
};
