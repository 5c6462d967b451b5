/**
 * multitalent's library API: `import { loadProgram, compileProgram, runGraph } from 'multitalent'`.
 *
 * The compiler and the runtime meet only in the runtime graph (src/graph): compile a `.mt`
 * program to a graph, then hand the graph to `runGraph` with an event bus to observe it.
 */
export * from './graph/index.js';
export {
  loadProgram,
  checkProgram,
  compileProgram,
  renderDiagnostics,
  hasErrors,
  type Diagnostic,
  type Program,
} from './compiler/index.js';
export {
  runGraph,
  makePlan,
  executePlan,
  previewPlan,
  runSingleStage,
  listRuns,
  readRun,
  Store,
  type RunOptions,
  type RunOutcome,
  type Plan,
  type RunRecord,
} from './runtime/executor/index.js';
export { RunEvents, type RunEvent, type RunListener, type EvaluationResult, type ClassMetric } from './runtime/events.js';
export { initRuntime, type BackendChoice, type RuntimeInfo } from './runtime/setup.js';
export { multiTalentLoss, multiTalentLossParts, type MultiTalentLossOptions, type MultiTalentLossParts } from './runtime/loss/multitalent.js';
export { synthesizeCollection } from './runtime/data/synth/collection.js';
export { readNifti, writeNifti, writeNiftiLike } from './runtime/data/nifti/index.js';
export { preprocessImageFile, type ImagePreprocessing, type PreprocessedImage } from './runtime/data/preprocess/image.js';
export { loadInferenceModel, type InferenceModel } from './runtime/infer/model-source.js';
export { inferCases, listInferInputs, Predictor, type PredictOptions, type InferSummary } from './runtime/infer/predictor.js';
export { slidingWindow, slidingWindowPredict, type SlidingWindowOptions } from './runtime/infer/sliding-window.js';
export { readPlans, type ModelPlans } from './runtime/infer/plans.js';
export { writeModelPackage, readModelPackage } from './runtime/infer/package.js';
export { evaluateFolder, type FolderEvaluation } from './runtime/eval/folder.js';
export { hd95 } from './runtime/eval/hd95.js';
export { dice } from './runtime/eval/dice.js';
export { reportRuns } from './runtime/report/index.js';
export { MtDataError } from './runtime/data/errors.js';
export { attachPlainRenderer, attachJsonRenderer } from './ui/plain.js';
export { main as mtc } from './cli/main.js';
