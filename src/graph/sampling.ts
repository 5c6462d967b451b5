/**
 * The case-sampling law: the one definition that the checker (sampling shares shown by `mtc check`
 * and written into the graph), the runtime's case sampler and the docs all use.
 *
 * With n_k training cases in dataset k:
 * - inverse_sqrt: each case weighs 1/sqrt(n_k), so dataset k gets a share proportional to sqrt(n_k)
 *   (the paper's law);
 * - proportional: every case equally likely, share proportional to n_k;
 * - uniform: every dataset equally likely, uniform over its cases.
 */
import type { SamplingKind } from './types.js';

/** Unnormalised share of draws of a dataset with `n` (> 0) training cases. */
export function datasetWeight(kind: SamplingKind, n: number): number {
  switch (kind) {
    case 'inverse_sqrt':
      return Math.sqrt(n);
    case 'proportional':
      return n;
    case 'uniform':
      return 1;
  }
}

/** Unnormalised probability of one case of a dataset with `n` (> 0) training cases. */
export function caseWeight(kind: SamplingKind, n: number): number {
  return datasetWeight(kind, n) / n;
}

/** Share of draws per dataset (summing to 1); datasets with no cases get none. */
export function datasetShares(kind: SamplingKind, counts: Readonly<Record<string, number>>): Record<string, number> {
  const raw: Record<string, number> = {};
  let total = 0;
  for (const [name, n] of Object.entries(counts)) {
    if (!(n > 0)) continue;
    raw[name] = datasetWeight(kind, n);
    total += raw[name];
  }
  const out: Record<string, number> = {};
  for (const [name, w] of Object.entries(raw)) out[name] = w / total;
  return out;
}
