/**
 * Gamma and inverted gamma (nnU-Net v2's GammaTransform, retain_stats): the patch rescaled to
 * [0, 1] by its range, raised to gamma, scaled back, then shifted and scaled to its former mean and
 * standard deviation. Inverted: the same on -x, negated back (so it bends the bright end).
 */
import { drawParameter } from './draw.js';
import type { Patch, PatchTransformImpl } from './types.js';

const EPS = 1e-7;

/** Mean and standard deviation (N - 1 in the denominator, as torch.std). */
function meanStd(x: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const mean = s / x.length;
  let q = 0;
  for (let i = 0; i < x.length; i++) q += (x[i] - mean) ** 2;
  return { mean, std: Math.sqrt(q / Math.max(1, x.length - 1)) };
}

export function applyGamma(patch: Patch, gamma: number, invert: boolean): void {
  const x = patch.image;
  if (invert) for (let i = 0; i < x.length; i++) x[i] = -x[i];
  const before = meanStd(x);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  const range = hi - lo;
  const denom = Math.max(range, EPS);
  for (let i = 0; i < x.length; i++) {
    const u = (x[i] - lo) / denom;
    // u^gamma as exp(gamma log u): the same value, about twice as fast as ** in V8.
    x[i] = (u > 0 ? Math.exp(gamma * Math.log(u)) : 0) * range + lo;
  }
  const after = meanStd(x);
  const scale = before.std / Math.max(after.std, EPS);
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - after.mean) * scale + before.mean;
  if (invert) for (let i = 0; i < x.length; i++) x[i] = -x[i];
}

export const gamma: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    applyGamma(patch, drawParameter(t, rng), false);
    return true;
  },
};

export const gammaInverted: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng) {
    applyGamma(patch, drawParameter(t, rng), true);
    return true;
  },
};
