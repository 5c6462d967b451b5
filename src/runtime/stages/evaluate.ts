import type { EvaluateStage } from '../../graph/types.js';
import { readNiftiLabel } from '../data/nifti/read.js';
import { loadRawDataset } from '../data/raw/dataset.js';
import type { PreprocessedCase } from '../data/types.js';
import { evaluateModel, type ReferenceLabel } from '../eval/model.js';
import { trainingMirrorAxes } from '../infer/plans.js';
import type { EvaluationResult } from '../events.js';
import { checkpointOutput, loadCheckpoint, readCheckpointManifest } from '../model/checkpoint.js';
import { datasetDir, datasetSpec, preprocessedFor, type StageContext } from './context.js';

/**
 * Held-out cases of the evaluated datasets, predicted with the stage's sliding window, exported back
 * to each file's grid and compared there with the case's label file (as nnU-Net evaluates): Dice,
 * and HD95 in mm when the graph's `metrics` asks for it.
 */
export async function runEvaluate(stage: EvaluateStage, ctx: StageContext): Promise<void> {
  const dir = ctx.state.checkpoints.get(stage.model);
  if (!dir) throw new Error(`stage '${stage.model}' produced no checkpoint to evaluate`);
  const datasets = preprocessedFor(ctx, stage.datasets);
  const cases = datasets.flatMap((d) => d.cases.filter((c) => d.holdout.includes(c.id)));
  // label files by dataset and case id, from the dataset folders as they are now
  const labelPaths = new Map<string, string>();
  for (const name of stage.datasets) {
    const raw = await loadRawDataset(datasetDir(ctx, datasetSpec(ctx, name)), { checkContents: false });
    for (const c of raw.cases) labelPaths.set(`${name}/${c.id}`, c.labelPath);
  }
  const reference = async (c: PreprocessedCase): Promise<ReferenceLabel | null> => {
    const path = labelPaths.get(`${c.dataset}/${c.id}`);
    if (!path) return null;
    const { volume } = await readNiftiLabel(path, { orientation: 'ras' });
    const expected = c.source?.canonicalShape;
    if (expected && volume.shape.some((d, i) => d !== expected[i])) return null;
    return { label: volume.data, shape: volume.shape, spacing: volume.spacing };
  };
  const output = checkpointOutput(await readCheckpointManifest(dir));
  const model = await loadCheckpoint(dir);
  try {
    const heads = output.classes.filter((h) => stage.datasets.includes(h.dataset));
    // test-time mirroring only over the axes the training mirrored (nnU-Net's rule)
    const trained = ctx.graph.stages.find((s) => s.id === stage.model);
    const mirrorAxes = trained && (trained.kind === 'train' || trained.kind === 'finetune') ? trainingMirrorAxes(trained) : [0, 1, 2];
    const classes = await evaluateModel(
      model,
      heads,
      cases,
      { ...stage.inference, mirror: stage.inference.mirror && mirrorAxes.length > 0, mirrorAxes },
      (done, total) => ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total, unit: 'cases' }),
      ctx.signal,
      { metrics: stage.metrics ?? ['dice'], reference, output },
    );
    const defined = classes.map((c) => c.dice).filter((d): d is number => d !== null);
    const result: EvaluationResult = {
      stage: stage.id,
      experiment: stage.experiment,
      classes,
      meanDice: defined.length > 0 ? defined.reduce((a, b) => a + b, 0) / defined.length : null,
    };
    ctx.state.results.push(result);
    ctx.events.emit({ type: 'evaluation', result });
  } finally {
    model.dispose();
  }
}
