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
