/**
 * Reading a preprocess stage's outputs (`cases.json`, `cases/DATASET/ID.mtcase`,
 * `normalization.json`) and cutting its datasets into a cross-validation fold.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SplitSpec } from '../../graph/types.js';
import { decodeCase } from '../data/cache/case-file.js';
import type { CtStats } from '../data/preprocess/normalize.js';
import { foldOf, kFoldSplits, readSplitFile, type FoldSplit } from '../data/raw/split.js';
import type { PreprocessedCase, PreprocessedDataset } from '../data/types.js';
import { datasetDir, datasetSpec, inputOf, type StageContext } from './context.js';

/** One line of cases.json. */
export interface CaseEntry {
  dataset: string;
  id: string;
  /** Path inside the preprocess entry. */
  file: string;
  shape: [number, number, number];
}

/** normalization.json: the preprocessing facts a model trained on these cases must be used with. */
export interface NormalizationRecord {
  kind: 'ct';
  scope: 'collection' | 'dataset';
  spacing: [number, number, number];
  /** The statistics applied to each dataset. */
  statistics: Record<string, CtStats>;
  /** The preprocess stage they were taken from (null: computed from these datasets). */
  statsFrom: string | null;
}

export async function readCaseList(dir: string): Promise<CaseEntry[]> {
  return JSON.parse(await readFile(join(dir, 'cases.json'), 'utf8')) as CaseEntry[];
}

export async function readNormalization(dir: string): Promise<NormalizationRecord> {
  return JSON.parse(await readFile(join(dir, 'normalization.json'), 'utf8')) as NormalizationRecord;
}

/** The preprocessed cases of `datasets` from preprocess stage `stageId`'s entry, by dataset. */
export async function loadCases(ctx: StageContext, stageId: string, datasets: readonly string[], signal?: AbortSignal): Promise<Map<string, PreprocessedCase[]>> {
  const input = inputOf(ctx, stageId);
  const list = await readCaseList(input.dir);
  const out = new Map<string, PreprocessedCase[]>(datasets.map((d) => [d, []]));
  for (const e of list) {
    const bucket = out.get(e.dataset);
    if (!bucket) continue;
    signal?.throwIfAborted();
    const c = decodeCase(new Uint8Array(await readFile(join(input.dir, e.file))));
    if (!c) throw new Error(`${join(input.dir, e.file)} is not a readable preprocessed case; delete ${input.dir} and run again to recompute it`);
    bucket.push(c);
  }
  return out;
}

/** Every fold of a dataset's split: its split file when it has one, else the seeded k-fold split. */
export async function datasetSplits(ctx: Pick<StageContext, 'graph' | 'dataRoot'>, dataset: string, ids: readonly string[], split: SplitSpec): Promise<{ folds: FoldSplit[]; source: string }> {
  const spec = datasetSpec(ctx, dataset);
  if (spec.splitFile) {
    const path = join(datasetDir(ctx, spec), spec.splitFile);
    return { folds: await readSplitFile(path, ids, dataset), source: path };
  }
  return { folds: kFoldSplits(ids, split.folds, split.seed, dataset), source: `the seeded ${split.folds}-fold split` };
}

/**
 * The datasets with `train` = fold `fold`'s training cases and `holdout` = its validation cases;
 * fold null (`folds none`): every case trains and none is held out (no split is read).
 */
export async function foldDatasets(
  ctx: Pick<StageContext, 'graph' | 'dataRoot'>,
  cases: ReadonlyMap<string, PreprocessedCase[]>,
  split: SplitSpec,
  fold: number | null,
): Promise<PreprocessedDataset[]> {
  const out: PreprocessedDataset[] = [];
  for (const [name, list] of cases) {
    const ids = list.map((c) => c.id);
    if (fold === null) {
      out.push({ name, cases: list, train: [...ids].sort(), holdout: [] });
      continue;
    }
    const { folds, source } = await datasetSplits(ctx, name, ids, split);
    const f = foldOf(folds, fold, name, source);
    out.push({ name, cases: list, train: f.train, holdout: f.val });
  }
  return out;
}
