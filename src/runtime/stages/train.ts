import { join } from 'node:path';
import type { FinetuneStage, TrainStage } from '../../graph/types.js';
import { buildPlans, writePlans } from '../infer/plans.js';
import { checkpointDirOf, saveCheckpoint } from '../model/checkpoint.js';
import { buildHistory, writeHistory } from '../train/history-file.js';
import { trainModel } from '../train/trainer.js';
import { preprocessedFor, type StageContext } from './context.js';


/** Pre-training (`train`) and fine-tuning (`finetune`) share one path; fine-tuning starts from a checkpoint. */
export async function runTraining(stage: TrainStage | FinetuneStage, ctx: StageContext): Promise<void> {
  let init: { checkpointDir: string } | undefined;
  if (stage.kind === 'finetune') {
    const from = ctx.state.checkpoints.get(stage.from);
    if (!from) throw new Error(`stage '${stage.from}' produced no checkpoint to fine-tune from`);
    init = { checkpointDir: from };
  } else if (stage.checkpoint) {
    init = { checkpointDir: checkpointDirOf(stage.checkpoint) }; // `pretrained "FILE"`, checked by preflight
  }
  const trained = await trainModel({
    params: stage,
    data: preprocessedFor(ctx, stage.datasets),
    init,
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.events.emit({
        type: 'stage-progress',
        stage: stage.id,
        done: p.iteration,
        total: p.total,
        unit: 'it',
        rate: p.itPerSec,
        loss: p.loss,
        lr: p.lr,
        epoch: p.epoch,
      }),
    onLog: (message) => ctx.events.emit({ type: 'stage-log', stage: stage.id, message }),
  });
  const dir = join(ctx.runDir, 'checkpoints', stage.experiment);
  try {
    await saveCheckpoint(trained.model, dir, trained.output);
  } finally {
    trained.model.dispose();
  }
  // Next to the weights: how to preprocess a new scan (plans.json) and the per-epoch record (history.json).
  const preprocess = ctx.graph.stages.find((s) => s.kind === 'preprocess' && stage.datasets.every((d) => s.datasets.includes(d)));
  if (preprocess?.kind === 'preprocess') {
    const statistics = Object.fromEntries(stage.datasets.flatMap((d) => (ctx.state.statistics.has(d) ? [[d, ctx.state.statistics.get(d)!]] : [])));
    await writePlans(
      dir,
      buildPlans({
        stageId: stage.id,
        params: stage,
        datasets: ctx.graph.datasets,
        normalization: preprocess.normalization,
        statistics,
        activation: trained.output.layout.activation,
        spacing: preprocess.spacing,
      }),
    );
  }
  await writeHistory(dir, buildHistory(stage.id, stage.experiment, stage.schedule.phases, stage.schedule.iterationsPerEpoch, trained.history, trained.seconds));
  ctx.state.checkpoints.set(stage.id, dir);
  ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `checkpoint saved to ${dir}` });
}
