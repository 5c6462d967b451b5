/**
 * From predicted probabilities to class masks, by the network's output layout (graph/outputs.ts,
 * recorded in the checkpoint manifest's `output`):
 * - sigmoid: each class's own channel, thresholded at p > 0.5 (classes may overlap);
 * - softmax: the label map is the argmax channel's label value (ties: the lower channel, as
 *   numpy's argmax), and a class's mask is the voxels whose label is one of the class's labels.
 */
import type { OutputLayout } from '../../graph/types.js';
import { regionMask } from '../data/regions.js';
import { threshold } from './sliding-window.js';

/** The label map of softmax probabilities: per voxel the label of the most probable channel. */
export function argmaxLabels(probs: readonly Float32Array[], labels: readonly number[]): Uint8Array {
  if (probs.length !== labels.length) throw new Error(`argmax: ${probs.length} probability volumes for ${labels.length} labels`);
  const n = probs[0]?.length ?? 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestP = probs[0][i];
    for (let k = 1; k < probs.length; k++) {
      if (probs[k][i] > bestP) {
        bestP = probs[k][i];
        best = k;
      }
    }
    out[i] = labels[best];
  }
  return out;
}

/**
 * The masks of `classes` from probabilities: for sigmoid, `probs[j]` is class j's channel; for
 * softmax, `probs` holds every channel in layout order.
 */
export function classMasksFromProbabilities(layout: OutputLayout, probs: readonly Float32Array[], classes: readonly { labels: readonly number[] }[]): Uint8Array[] {
  if (layout.activation === 'sigmoid') {
    if (probs.length !== classes.length) throw new Error(`sigmoid output: ${probs.length} probability volumes for ${classes.length} classes`);
    return probs.map((p) => threshold(p, 0.5));
  }
  const labelMap = argmaxLabels(probs, layout.labels);
  return classes.map((c) => regionMask(labelMap, c.labels));
}
