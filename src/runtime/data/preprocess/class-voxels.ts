/** Class regions of a label map and the voxel lists nnU-Net keeps for foreground oversampling. */
import type { Rng } from '../../rng.js';
import { regionLut } from '../regions.js';

export { regionMask } from '../regions.js';

/**
 * Flat indices of voxels in the region, ascending: all of them when there are at most `max`,
 * else `max` drawn without replacement (selection sampling, one pass, seeded).
 */
export function sampleClassVoxels(label: Uint8Array, labels: number[], max: number, rng: Rng): Uint32Array {
  const lut = regionLut(labels);
  let total = 0;
  for (let i = 0; i < label.length; i++) total += lut[label[i]];
  const take = Math.min(total, max);
  const out = new Uint32Array(take);
  let needed = take;
  let left = total;
  let k = 0;
  for (let i = 0; i < label.length && needed > 0; i++) {
    if (!lut[label[i]]) continue;
    if (needed === left || rng() * left < needed) {
      out[k++] = i;
      needed--;
    }
    left--;
  }
  return out;
}
