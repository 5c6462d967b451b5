import type { OutputLayout } from '../../graph/types.js';

/**
 * Region classes: a class is the union of some of its dataset's label values (MSD Liver's "liver" is
 * {1, 2}, tumour included). The one definition of a region's voxels, used by preprocessing (class
 * voxel lists), batch targets and evaluation alike.
 */

/** Lookup table over uint8 label values: 1 where the value belongs to the region. */
export function regionLut(labels: readonly number[]): Uint8Array {
  const lut = new Uint8Array(256);
  for (const v of labels) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`label value ${v} is not an integer in 0..255`);
    lut[v] = 1;
  }
  return lut;
}

/** Binary mask, 1 where the label value is one of `labels`. */
export function regionMask(label: Uint8Array, labels: readonly number[]): Uint8Array {
  const lut = regionLut(labels);
  const out = new Uint8Array(label.length);
  for (let i = 0; i < label.length; i++) out[i] = lut[label[i]];
  return out;
}

/**
 * Per output channel, the lookup table label value -> training target (graph/outputs.ts): a
 * sigmoid channel's region; for a softmax layout, channel k's label `labels[k]`, and for the
 * background channel (k = 0) every value no other channel takes, so each voxel is one-hot.
 */
export function outputTargetLuts(layout: OutputLayout, channels: readonly { labels: readonly number[] }[]): Uint8Array[] {
  if (layout.activation === 'sigmoid') return channels.map((c) => regionLut(c.labels));
  const luts = layout.labels.map((v) => regionLut([v]));
  const background = new Uint8Array(256).fill(1);
  for (const v of layout.labels.slice(1)) background[v] = 0;
  luts[0] = background;
  return luts;
}
