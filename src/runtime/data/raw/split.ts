/** The fixed train/hold-out split of one dataset. */
import { MtDataError } from '../errors.js';
import { makeRng, shuffle } from '../../rng.js';

export interface CaseSplit {
  train: string[];
  holdout: string[];
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
