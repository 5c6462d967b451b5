/**
 * Dataset splits.
 *
 * - Cross-validation (`foldSplits`): a dataset's split file when it has one (nnU-Net's
 *   `splits_final.json`: a list of `{ "train": [ids], "val": [ids] }`, one per fold), else its
 *   sorted case ids shuffled with a generator seeded by (seed, dataset name) and cut into `folds`
 *   contiguous parts (the first n % folds parts one case longer, as scikit-learn's KFold). Fold k
 *   validates on part k and trains on the rest. The seeded split is stable (the same ids always
 *   give the same folds) but not nnU-Net's own KFold permutation: to reuse nnU-Net's folds exactly,
 *   give the dataset its splits_final.json.
 * - A single hold-out (`splitCases`), kept for library users of the data layer.
 */
import { readFile } from 'node:fs/promises';
import { MtDataError } from '../errors.js';
import { makeRng, shuffle } from '../../rng.js';

export interface CaseSplit {
  train: string[];
  holdout: string[];
}

/** One fold of a cross-validation split: case ids (sorted) to train on and to validate on. */
export interface FoldSplit {
  train: string[];
  val: string[];
}

/**
 * Holds out max(1, round(n * holdoutFraction)) cases chosen by a shuffle seeded with (seed, dataset
 * name), so datasets of equal size do not share a pattern. Both lists come back sorted.
 */
export function splitCases(ids: string[], holdoutFraction: number, seed: number, dataset: string): CaseSplit {
  if (!(holdoutFraction >= 0 && holdoutFraction < 1)) {
    throw new MtDataError(`${dataset}: holdout fraction ${holdoutFraction} must be in [0, 1)`);
  }
  const sorted = [...ids].sort();
  const h = Math.max(1, Math.round(sorted.length * holdoutFraction));
  if (sorted.length - h < 1) {
    throw new MtDataError(
      `${dataset}: has ${sorted.length} case(s); holding out ${h} leaves none to train on. A dataset needs at least 2 cases (one to train, one to evaluate)`,
    );
  }
  const order = shuffle(makeRng(seed, 'split', dataset), [...sorted]);
  const held = new Set(order.slice(0, h));
  return { train: sorted.filter((id) => !held.has(id)), holdout: sorted.filter((id) => held.has(id)) };
}

/** Why a dataset of `cases` cases has no seeded `folds`-fold split (preflight says it before any stage runs). */
export function tooFewForFolds(dataset: string, cases: number, folds: number): string {
  return (
    `dataset '${dataset}' has ${cases} case(s), too few for a ${folds}-fold cross-validation (every fold validates on at least one case). ` +
    'Add cases, or give the dataset a split file (split "splits_final.json") with the folds you want'
  );
}

/** The seeded k-fold split of a dataset's case ids (see the module doc). */
export function kFoldSplits(ids: readonly string[], folds: number, seed: number, dataset: string): FoldSplit[] {
  if (!Number.isInteger(folds) || folds < 2) throw new MtDataError(`${dataset}: a cross-validation split needs at least 2 folds, not ${folds}`);
  const sorted = [...ids].sort();
  if (sorted.length < folds) throw new MtDataError(tooFewForFolds(dataset, sorted.length, folds));
  const order = shuffle(makeRng(seed, 'kfold', dataset), [...sorted]);
  const parts: string[][] = [];
  let at = 0;
  for (let k = 0; k < folds; k++) {
    const size = Math.floor(sorted.length / folds) + (k < sorted.length % folds ? 1 : 0);
    parts.push(order.slice(at, at + size));
    at += size;
  }
  return parts.map((val, k) => {
    const held = new Set(val);
    return { train: sorted.filter((id) => !held.has(id)), val: sorted.filter((id) => held.has(id)) };
  });
}

/**
 * Reads and checks a split file (nnU-Net's splits_final.json layout) against the dataset's case ids:
 * every id must exist, and no fold may train and validate on the same case.
 */
export async function readSplitFile(path: string, ids: readonly string[], dataset: string): Promise<FoldSplit[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw MtDataError.about(path, `cannot read the split file of dataset '${dataset}': ${(e as Error).message}`, 'It must be JSON: a list of { "train": [case ids], "val": [case ids] }, one per fold (nnU-Net\'s splits_final.json)');
  }
  const problems: string[] = [];
  const known = new Set(ids);
  const folds: FoldSplit[] = [];
  if (!Array.isArray(raw) || raw.length === 0) problems.push('the file must hold a non-empty list of folds');
  else {
    raw.forEach((f: unknown, k) => {
      const o = f as { train?: unknown; val?: unknown };
      const list = (v: unknown, what: string): string[] => {
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
          problems.push(`fold ${k}: '${what}' must be a list of case ids`);
          return [];
        }
        return [...(v as string[])].sort();
      };
      const train = list(o?.train, 'train');
      const val = list(o?.val, 'val');
      const unknown = [...train, ...val].filter((id) => !known.has(id));
      if (unknown.length > 0) problems.push(`fold ${k}: case${unknown.length === 1 ? '' : 's'} ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', ...' : ''} not in the dataset`);
      const both = val.filter((id) => train.includes(id));
      if (both.length > 0) problems.push(`fold ${k}: ${both.slice(0, 5).join(', ')} both trained on and validated on`);
      if (train.length === 0) problems.push(`fold ${k}: trains on no case`);
      folds.push({ train, val });
    });
  }
  if (problems.length > 0) {
    throw new MtDataError(`${path}: invalid split file of dataset '${dataset}':\n${problems.map((p) => `  - ${p}`).join('\n')}`, { path, problems });
  }
  return folds;
}

/** Fold `fold` of a dataset's splits, with a clear error when the split has fewer folds. */
export function foldOf(splits: readonly FoldSplit[], fold: number, dataset: string, source: string): FoldSplit {
  const f = splits[fold];
  if (f === undefined) {
    throw new MtDataError(`dataset '${dataset}': fold ${fold} is not in its split (${source} has ${splits.length} fold${splits.length === 1 ? '' : 's'}, 0 to ${splits.length - 1})`);
  }
  return f;
}
