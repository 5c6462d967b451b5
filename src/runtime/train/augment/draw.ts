/** Drawing a transform's parameter from its range, by the law graph/transforms.ts declares for it. */
import { transformDeclaration, type RangeLaw } from '../../../graph/transforms.js';
import type { AugmentTransform } from '../../../graph/types.js';
import type { Prng } from '../../rng.js';

export function drawFromRange(law: RangeLaw, range: readonly [number, number], rng: Prng): number {
  const [lo, hi] = range;
  if (law === 'around_one' && lo < 1 && hi > 1) {
    // nnU-Net's contrast law: below and above 1 equally often.
    return rng.next() < 0.5 ? lo + (1 - lo) * rng.next() : 1 + (hi - 1) * rng.next();
  }
  return lo + (hi - lo) * rng.next();
}

/** The transform's parameter, drawn by its declared law; throws when the graph gives no range. */
export function drawParameter(t: AugmentTransform, rng: Prng): number {
  const d = transformDeclaration(t.kind);
  if (!d.range || !t.range) throw new Error(`augmentation transform '${t.kind}' needs a range [low, high]`);
  return drawFromRange(d.range.law, t.range, rng);
}
