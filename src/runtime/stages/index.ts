import type { Stage, StageKind } from '../../graph/types.js';
import type { StageHandler } from './context.js';
import { evaluateHandler } from './evaluate.js';
import { prepareHandler } from './prepare.js';
import { preprocessHandler } from './preprocess.js';
import { reportHandler } from './report.js';
import { trainHandler } from './train.js';

export type { StageContext, StageHandler, StageInput, StageResult, ExternalContext } from './context.js';

/** The stage handlers, by stage kind (the one place that maps a kind to its code). */
export const stageHandlers: { [K in StageKind]: StageHandler<Extract<Stage, { kind: K }>> } = {
  prepare: prepareHandler,
  preprocess: preprocessHandler,
  train: trainHandler,
  finetune: trainHandler,
  evaluate: evaluateHandler,
  report: reportHandler,
};

export function handlerFor(stage: Stage): StageHandler {
  return stageHandlers[stage.kind] as StageHandler;
}
