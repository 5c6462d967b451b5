/**
 * The executor: plans (plan.ts), stage keys (keys.ts), the stage store (store.ts), run folders
 * (run-folder.ts), the local executor (local.ts) and what `mtc status` / `mtc ls` read (status.ts).
 * Another executor (a cluster's) implements the same contract: run a stage with
 * `runSingleStage` in a fresh process, from the store, into the store.
 */
import { resolve } from 'node:path';
import type { RuntimeGraph } from '../../graph/types.js';
import { validateGraph } from '../../graph/validate.js';
import { executePlan, type ExecuteOptions, type RunOutcome } from './local.js';
import { makePlan } from './plan.js';

export { assertRunnable, executePlan, lineageOf, runSingleStage, StageRunner, type ExecuteOptions, type RunOutcome, type StageLauncher } from './local.js';
export { describeStage, makePlan, stageParameters, stageSlug, stagesOf, subgraph, type Plan, type PlannedExperiment } from './plan.js';
export { canonicalJson, explainChange, keyMaterial, keyOf, staticKeys, type KeyMaterial } from './keys.js';
export { Store, type StageManifest, type StoreEntry } from './store.js';
export { RUN_FILE, STATE_FILE, RunRecorder, type LockFile, type RunConfig, type RunState, type StageState } from './run-folder.js';
export { packageInfo, tfjsVersion } from './versions.js';
export { previewPlan, type PlanPreview, type StagePreview } from './preview.js';
export { STAGE_NODE_FLAGS } from './stage-process.js';

export interface RunOptions extends Omit<ExecuteOptions, 'backend'> {
  /** Where run folders are created (`<runs>/<experiment>/<run key>/`) and, unless `storeDir`, the store (`<runs>/.store`). */
  runs: string;
  storeDir?: string;
  /** The backend tensor stages compute on, as keys record it (default: `cpu`). */
  backend?: string;
}

/** Validates a compiled graph, plans it and executes it (the library's one-call entry point). */
export async function runGraph(graphInput: unknown, options: RunOptions): Promise<RunOutcome> {
  const graph: RuntimeGraph = validateGraph(graphInput);
  const backend = options.backend ?? 'cpu';
  const plan = makePlan(graph, { runsDir: resolve(options.runs), storeDir: options.storeDir, backend });
  return executePlan(plan, { ...options, backend });
}
export { findRun, listRuns, readRun, type RunRecord } from './status.js';
export { followJobs, slurmPreflight, submitPlan, type FollowOutcome, type SlurmExecuteOptions, type SubmittedStage } from './slurm/executor.js';
export { withSlurmState, type SlurmRunRecord } from './slurm/status.js';
