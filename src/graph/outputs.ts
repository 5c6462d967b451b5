/**
 * The output layout of a network: which channels it has, how training targets are built from a
 * label map, and how its predictions become class masks. The one definition that lowering (which
 * writes `TrainParams.output` into the graph), the trainer, evaluation, checkpoints and inference read.
 *
 * - `multitalent`: one sigmoid channel per class (the paper's decoupled heads); a class is any union
 *   of label values and classes may overlap. Prediction: p > 0.5 per class.
 * - `dice_ce` (nnU-Net's single-dataset training), following nnU-Net's LabelManager: when some class
 *   is a region (more than one label value) the training is region-based, one sigmoid channel per
 *   class as above (nnU-Net's DC_and_BCE_loss); otherwise one softmax over the label values,
 *   background first (DC_and_CE_loss). Channel k stands for label `labels[k]`; label values that no
 *   class names are background. Prediction: the argmax channel's label, then each class's labels.
 */
import type { HeadSpec, LossKind, OutputLayout } from './types.js';

export const BACKGROUND_CHANNEL = 'background';

/** True when some class is a union of several label values (nnU-Net's `has_regions`). */
export function hasRegions(heads: readonly HeadSpec[]): boolean {
  return heads.some((h) => new Set(h.labels).size > 1);
}

/** The layout `loss` trains `heads` with (see the module comment). */
export function outputLayoutFor(loss: LossKind, heads: readonly HeadSpec[]): OutputLayout {
  if (loss === 'multitalent' || hasRegions(heads)) return { activation: 'sigmoid' };
  const labels = [0];
  for (const h of heads) for (const v of h.labels) if (!labels.includes(v)) labels.push(v);
  return { activation: 'softmax', labels };
}

/**
 * The network's output channels, described as heads (name and label values per channel): the
 * heads themselves for `sigmoid`; for `softmax` one channel per label, the first `background`
 * (label 0), the others named after the class that is exactly that label (else `label_V`).
 */
export function outputChannels(layout: OutputLayout, heads: readonly HeadSpec[]): HeadSpec[] {
  if (layout.activation === 'sigmoid') return heads.map((h) => ({ ...h, labels: [...h.labels] }));
  const datasets = [...new Set(heads.map((h) => h.dataset))];
  if (datasets.length !== 1) {
    throw new Error(`a softmax output covers the labels of one dataset; these heads come from ${datasets.length === 0 ? 'none' : datasets.join(', ')}`);
  }
  if (layout.labels[0] !== 0) throw new Error(`a softmax output's first channel is the background (label 0), not label ${layout.labels[0]}`);
  return layout.labels.map((v, k) => {
    if (k === 0) return { dataset: datasets[0], name: BACKGROUND_CHANNEL, labels: [0] };
    const exact = heads.find((h) => h.labels.length === 1 && h.labels[0] === v);
    return { dataset: datasets[0], name: exact?.name ?? `label_${v}`, labels: [v] };
  });
}

/** Number of output channels of a network with this layout and these heads. */
export function outputChannelCount(layout: OutputLayout, heads: readonly HeadSpec[]): number {
  return layout.activation === 'sigmoid' ? heads.length : layout.labels.length;
}
