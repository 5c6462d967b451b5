/**
 * Which Slurm jobs a set of stages becomes. Stages of the same shape (kind, network, batch, schedule
 * length) that wait for the same jobs go out as one job array: the folds of a training, the members
 * of a family. A job waits for the jobs of its stages' dependencies with `afterok`; where task i of
 * an array needs only task i of another array (a family's preprocessing, then its trainings), with
 * `aftercorr`, so each member starts as soon as its own input is ready.
 */
import type { RuntimeGraph, Stage } from '../../../graph/types.js';

export interface JobPlan {
  /** The stages of the job, in graph order: one, or one per array task. */
  stages: string[];
  /** Jobs (indices into the list) this one waits for, and how. */
  after: Array<{ job: number; kind: 'afterok' | 'aftercorr' }>;
}

/** What makes two stages the same kind of job (their resources and run time). */
export function shapeOf(stage: Stage): string {
  switch (stage.kind) {
    case 'train':
    case 'finetune':
      return JSON.stringify([stage.kind, stage.architecture, stage.batch, stage.precision ?? 'fp32', stage.schedule.epochs, stage.schedule.iterationsPerEpoch, stage.schedule.validationIterations ?? 0]);
    case 'evaluate':
      return JSON.stringify([stage.kind, stage.models.length, stage.inference]);
    default:
      return stage.kind;
  }
}

/** Groups `submit` (stage ids, graph order) into jobs; dependencies outside `submit` are done already. */
export function planJobs(graph: RuntimeGraph, submit: readonly string[]): JobPlan[] {
  const byId = new Map(graph.stages.map((s) => [s.id, s]));
  const chosen = new Set(submit);
  const jobOf = new Map<string, number>();
  const jobs: JobPlan[] = [];
  const open = new Map<string, number>();
  for (const s of graph.stages) {
    if (!chosen.has(s.id)) continue;
    const depJobs = [...new Set(s.deps.filter((d) => chosen.has(d)).map((d) => jobOf.get(d)!))].sort((a, b) => a - b);
    const key = `${shapeOf(s)}\u0000${depJobs.join(',')}`;
    let j = open.get(key);
    if (j === undefined) {
      j = jobs.length;
      jobs.push({ stages: [], after: depJobs.map((job) => ({ job, kind: 'afterok' as const })) });
      open.set(key, j);
    }
    jobs[j].stages.push(s.id);
    jobOf.set(s.id, j);
  }
  // aftercorr where the dependency is one to one, task by task.
  for (const job of jobs) {
    if (job.stages.length < 2) continue;
    for (const a of job.after) {
      const up = jobs[a.job];
      if (up.stages.length !== job.stages.length) continue;
      const corresponding = job.stages.every((id, i) => {
        const inUp = (byId.get(id)?.deps ?? []).filter((d) => up.stages.includes(d));
        return inUp.length === 1 && inUp[0] === up.stages[i];
      });
      if (corresponding) a.kind = 'aftercorr';
    }
  }
  return jobs;
}
