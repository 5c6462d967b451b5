/** Class regions of a label map and the voxel lists nnU-Net keeps for foreground oversampling. */
import type { Rng } from '../rng.js';

/** 1 where the label is one of `labels` (a region class is the union of its label values). */
export function regionMask(label: Uint8Array, labels: number[]): Uint8Array {
  const lut = new Uint8Array(256);
  for (const v of labels) if (v >= 0 && v < 256) lut[v] = 1;
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) out[i] = lut[label[i]];
  return out;
}

/**
 * Flat indices of voxels in the region, ascending: all of them when there are at most `max`,
 * else `max` drawn without replacement (selection sampling, one pass, seeded).
 */
export function sampleClassVoxels(label: Uint8Array, labels: number[], max: number, rng: Rng): Uint32Array {
  const lut = new Uint8Array(256);
  for (const v of labels) if (v >= 0 && v < 256) lut[v] = 1;
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
