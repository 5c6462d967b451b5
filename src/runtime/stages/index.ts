import type { Stage, StageKind } from '../../graph/types.js';
import type { StageContext } from './context.js';
import { runEvaluate } from './evaluate.js';
import { runPrepare } from './prepare.js';
import { runPreprocess } from './preprocess.js';
import { runReport } from './report.js';
import { runTraining } from './train.js';

export type { RunState, StageContext } from './context.js';

type Handler<K extends StageKind> = (stage: Extract<Stage, { kind: K }>, ctx: StageContext) => Promise<void>;

export const stageHandlers: { [K in StageKind]: Handler<K> } = {
  prepare: runPrepare,
  preprocess: runPreprocess,
  train: runTraining,
  finetune: runTraining,
  evaluate: runEvaluate,
  report: runReport,
};
