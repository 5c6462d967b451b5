/**
 * Dice = 2TP / (2TP + FP + FN) of two binary masks; null when both are empty (nnU-Net's NaN).
 */
export function dice(pred: Uint8Array, ref: Uint8Array): number | null {
  if (pred.length !== ref.length) throw new Error(`dice: masks differ in size (${pred.length} vs ${ref.length})`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] !== 0;
    const r = ref[i] !== 0;
    if (p && r) tp++;
    else if (p) fp++;
    else if (r) fn++;
  }
  const den = 2 * tp + fp + fn;
  return den === 0 ? null : (2 * tp) / den;
}
