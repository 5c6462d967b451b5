/**
 * `train:NAME[/foldK]` and `finetune:NAME[/foldK]`: one training on one cross-validation fold.
 * Fine-tuning copies the backbone of `from`'s final checkpoint. Outputs:
 *
 *   checkpoints/final/    the trained network with its full training state, plans.json (how to
 *                         preprocess a new scan) and history.json (loss, learning rate, pseudo-Dice
 *                         per class and its average, per epoch)
 *   checkpoints/best/     the epoch with the best moving average of the validation pseudo-Dice (same files)
 *
 * While it runs, `checkpoints/latest` in the work folder is the resume point: the same command
 * after a crash or Ctrl-C continues from it (same key), bit-identically on the cpu backend. When the
 * only change is a longer schedule, the training continues from the final checkpoint of the shorter
 * one (same lineage) instead of starting again.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FinetuneStage, TrainStage } from '../../graph/types.js';
import { buildPlans, writePlans } from '../infer/plans.js';
import { checkpointDirOf } from '../model/checkpoint.js';
import { canonicalJson, keyParams, sha256Hex } from '../executor/keys.js';
import { fileSha256, type StageManifest } from '../executor/store.js';
import { loadTrainingCheckpoint, type LoadedTraining } from '../train/checkpoints.js';
import { buildHistory, writeHistory } from '../train/history-file.js';
import { trainModel } from '../train/trainer.js';
import { inputOf, type StageContext, type StageHandler } from './context.js';
import { foldDatasets, loadCases, readNormalization } from './data.js';

type TrainingStage = TrainStage | FinetuneStage;

/** The hash of the resolved training parameters that checkpoints record. */
export function specHash(stage: TrainingStage, ctx: Pick<StageContext, 'graph'>): string {
  return sha256Hex(canonicalJson(keyParams(stage, ctx.graph)));
}

/** A finished training of the same lineage (equal but for a shorter schedule) to extend, or null. */
async function extensionSource(stage: TrainingStage, ctx: StageContext): Promise<{ manifest: StageManifest; loaded: LoadedTraining } | null> {
  if (ctx.lineage === undefined) return null;
  const total = stage.schedule.epochs;
  const candidates = (await ctx.store.manifests())
    .filter((m) => m.lineage === ctx.lineage && m.key !== ctx.key && typeof m.summary.epochs === 'number' && (m.summary.epochs as number) < total)
    .sort((a, b) => (b.summary.epochs as number) - (a.summary.epochs as number));
  for (const m of candidates) {
    const loaded = await loadTrainingCheckpoint(join(ctx.store.entryDir(m.key), 'checkpoints', 'final'));
    if (loaded) return { manifest: m, loaded };
  }
  return null;
}

export const trainHandler: StageHandler<TrainingStage> = {
  resumable: true,
  // A `pretrained "FILE"` start: the checkpoint's contents are an input of the key (not its path).
  external: async (stage) => {
    if (stage.kind !== 'train' || !stage.checkpoint) return null;
    const dir = checkpointDirOf(stage.checkpoint);
    return { digest: sha256Hex(`${await fileSha256(join(dir, 'model.json'))}\u0000${await fileSha256(join(dir, 'weights.bin'))}`), detail: null };
  },
  run: async (stage, ctx) => {
    const emit = (message: string) => ctx.events.emit({ type: 'stage-log', stage: stage.id, message });
    const cases = await loadCases(ctx, stage.data, stage.datasets, ctx.signal);
    const data = await foldDatasets(ctx, cases, stage.split, stage.fold);
    emit(
      stage.fold === null
        ? `every case, nothing held out (folds none): ${data.map((d) => `${d.name} ${d.train.length} cases`).join(', ')}`
        : `fold ${stage.fold}: ${data.map((d) => `${d.name} ${d.train.length} training + ${d.holdout.length} validation cases`).join(', ')}`,
    );

    const ckDir = join(ctx.workDir, 'checkpoints');
    let resume = await loadTrainingCheckpoint(join(ckDir, 'latest'), { onDamage: (p) => emit(`its latest checkpoint is damaged (${p}): not resuming from it`) });
    if (resume && resume.state.stageKey !== ctx.key) resume = null;
    let extendedFrom: string | undefined;
    if (resume) {
      emit(`resuming ${stage.id} from its latest checkpoint: epoch ${resume.state.epoch} of ${stage.schedule.epochs} (iteration ${resume.state.iteration})`);
    } else {
      const ext = await extensionSource(stage, ctx);
      if (ext) {
        resume = ext.loaded;
        extendedFrom = ext.manifest.key;
        emit(`extending the finished ${ext.manifest.stage} (${ext.loaded.state.totalEpochs} epochs, key ${ext.manifest.key.slice(0, 12)}) to ${stage.schedule.epochs} epochs from its final checkpoint`);
      }
    }
    let init: { checkpointDir: string } | undefined;
    if (!resume && stage.kind === 'finetune') init = { checkpointDir: join(inputOf(ctx, stage.from).dir, 'checkpoints', 'final') };
    else if (!resume && stage.checkpoint) init = { checkpointDir: checkpointDirOf(stage.checkpoint) }; // `pretrained "FILE"`, checked by preflight

    const trained = await trainModel({
      params: stage,
      data: [...data],
      init,
      resume: resume ?? undefined,
      checkpoints: { dir: ckDir, stageKey: ctx.key, specHash: specHash(stage, ctx) },
      signal: ctx.signal,
      onProgress: (p) =>
        ctx.events.emit({ type: 'stage-progress', stage: stage.id, done: p.iteration, total: p.total, unit: 'it', rate: p.itPerSec, loss: p.loss, lr: p.lr, epoch: p.epoch, memory: p.memory }),
      onLog: emit,
      onWarning: (message) => ctx.events.emit({ type: 'stage-log', stage: stage.id, message, level: 'warning' }),
      onEpoch: (record, best) => ctx.events.emit({ type: 'epoch', stage: stage.id, record, best }),
      onCheckpoint: (kind, epoch) => ctx.events.emit({ type: 'checkpoint', stage: stage.id, kind, epoch }),
    });
    trained.model.dispose();

    // Next to the weights: how to preprocess a new scan (plans.json, what `mtc infer` reads) and the
    // per-epoch record (history.json, what `mtc report` plots).
    const norm = await readNormalization(inputOf(ctx, stage.data).dir);
    const plans = buildPlans({
      stageId: stage.id,
      params: stage,
      datasets: ctx.graph.datasets,
      normalization: { kind: norm.kind, scope: norm.scope, statsFrom: norm.statsFrom },
      statistics: norm.statistics,
      activation: trained.output.layout.activation,
      spacing: norm.spacing,
    });
    const history = buildHistory(stage.id, stage.experiment, stage.schedule.phases, stage.schedule.iterationsPerEpoch, trained.history, trained.seconds);
    for (const kind of ['final', 'best']) {
      if (!existsSync(join(ckDir, kind, 'model.json'))) continue;
      await writePlans(join(ckDir, kind), plans);
      await writeHistory(join(ckDir, kind), history);
    }
    await rm(join(ckDir, 'latest'), { recursive: true, force: true });

    const last = trained.history[trained.history.length - 1];
    return {
      summary: {
        epochs: stage.schedule.epochs,
        iterations: trained.iterations,
        fold: stage.fold,
        finalLoss: last?.meanLoss ?? null,
        bestEma: trained.validation.bestEma,
        bestEpoch: trained.validation.bestEpoch,
        weights_sha256: await fileSha256(join(ckDir, 'final', 'weights.bin')),
        ...(resume && !extendedFrom ? { resumedAtEpoch: resume.state.epoch } : {}),
        ...(extendedFrom ? { extendedFrom } : {}),
      },
    };
  },
};
