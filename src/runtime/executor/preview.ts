/**
 * What a run would do, without doing it (`mtc run --dry-run`): for every stage whether it is in the
 * store (`cached`), would run, or would resume from a checkpoint; the data folders that are missing
 * or would be synthesised; what the runtime cannot execute. Reads the data folders (hashing their
 * files, memoised) but writes nothing and synthesises nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stage } from '../../graph/types.js';
import { RunEvents } from '../events.js';
import { inputProblems, unsupportedFeatures } from '../preflight.js';
import { datasetsToSynthesise, missingDatasetsMessage } from '../stages/prepare.js';
import { confinementProblems } from '../confine.js';
import { canonicalJson, sha256Hex } from './keys.js';
import { StageRunner } from './local.js';
import type { Plan } from './plan.js';
import { MANIFEST_FORMAT, Store } from './store.js';

export interface StagePreview {
  id: string;
  kind: Stage['kind'];
  /** `cached`: in the store; `run`: would run; `resume`: would continue from a checkpoint. */
  status: 'cached' | 'run' | 'resume';
  /** Known when every input is known (cached, or a dataset that exists). */
  key?: string;
  /** Why not cached (with `explain`), or what happens (synthesis, the epoch resumed from). */
  notes: string[];
}

export interface PlanPreview {
  stages: StagePreview[];
  /** Datasets whose folders are missing and not synthetic (formatted message), or null. */
  missingData: string | null;
  /** Datasets that would be synthesised. */
  synthesised: string[];
  /** What the runtime cannot execute yet. */
  unsupported: string[];
  /** Inputs that do not fit the experiment (dataset.json vs its classes, pretrained checkpoints): preflight.ts. */
  inputProblems: string[];
}

export async function previewPlan(plan: Plan, options: { dataRoot: string; cacheDir?: string | null; backend: string; explain?: boolean; allowOutsideDataRoot?: boolean }): Promise<PlanPreview> {
  const graph = plan.graph;
  const store = new Store(plan.storeDir);
  const runner = new StageRunner(graph, store, { dataRoot: options.dataRoot, cacheDir: options.cacheDir, backend: options.backend, events: new RunEvents() });
  const synthesised = datasetsToSynthesise(graph, options.dataRoot);
  const missingData = missingDatasetsMessage(graph, options.dataRoot, graph.datasets.map((d) => d.name), { synthesisable: true });
  const stages: StagePreview[] = [];
  for (const stage of graph.stages) {
    const notes: string[] = [];
    const known = stage.deps.every((d) => runner.entries.has(d));
    if (!known) {
      stages.push({ id: stage.id, kind: stage.kind, status: 'run', notes: ['runs after its inputs are computed'] });
      continue;
    }
    if (stage.kind === 'prepare') {
      const d = stage.datasets[0];
      if (synthesised.includes(d)) {
        stages.push({ id: stage.id, kind: stage.kind, status: 'run', notes: ['the dataset is missing and will be synthesised'] });
        continue;
      }
      if (missingData !== null && missingDatasetsMessage(graph, options.dataRoot, [d], { synthesisable: false }) !== null) {
        stages.push({ id: stage.id, kind: stage.kind, status: 'run', notes: ['the dataset folder is missing'] });
        continue;
      }
    }
    let r;
    try {
      r = await runner.resolve(stage);
    } catch (e) {
      stages.push({ id: stage.id, kind: stage.kind, status: 'run', notes: [`cannot check it: ${(e as Error).message.split('\n')[0]}`] });
      continue;
    }
    const entry = await store.lookup(r.key);
    if (entry) {
      runner.entries.set(stage.id, entry);
      stages.push({ id: stage.id, kind: stage.kind, status: 'cached', key: r.key, notes });
      continue;
    }
    if (stage.kind === 'prepare') {
      // Its outputs are known without running it: downstream keys can be computed.
      runner.entries.set(stage.id, {
        dir: '',
        manifest: {
          format: MANIFEST_FORMAT, version: 1, stage: stage.id, kind: stage.kind, key: r.key, material: r.material, inputStages: {}, outputs: {},
          digest: sha256Hex(canonicalJson(r.external)), summary: {}, seconds: 0, finishedAt: '',
        },
      });
    }
    let status: StagePreview['status'] = 'run';
    if (stage.kind === 'train' || stage.kind === 'finetune') {
      try {
        const t = JSON.parse(await readFile(join(store.workDir(r.key), 'checkpoints', 'latest', 'training.json'), 'utf8')) as { epoch: number; iteration: number };
        status = 'resume';
        notes.push(`resumes from its latest checkpoint at epoch ${t.epoch} (iteration ${t.iteration})`);
      } catch {
        // nothing to resume
      }
    }
    if (options.explain) notes.push(...(await runner.explain(stage, r)));
    stages.push({ id: stage.id, kind: stage.kind, status, key: r.key, notes });
  }
  const confinement = options.allowOutsideDataRoot ? [] : confinementProblems(graph, options.dataRoot);
  return { stages, missingData, synthesised, unsupported: unsupportedFeatures(graph), inputProblems: [...confinement, ...(await inputProblems(graph, options.dataRoot))] };
}
