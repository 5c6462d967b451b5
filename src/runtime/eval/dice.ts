import type { HeadSpec, InferenceSpec, OutputLayout } from '../../graph/types.js';
import type { PreprocessedCase } from '../data/types.js';
import { regionMask } from '../data/regions.js';
import type { ClassMetric } from '../events.js';
import { classMasksFromProbabilities } from '../infer/class-masks.js';
import { slidingWindowPredict } from '../infer/sliding-window.js';
import type { UNet } from '../model/unet.js';

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

/** Mean over the defined values; null when none is defined. */
export function meanDefined(values: readonly (number | null)[]): number | null {
  const d = values.filter((v): v is number => v !== null);
  return d.length === 0 ? null : d.reduce((a, b) => a + b, 0) / d.length;
}

/**
 * Evaluates `model` on `cases` by sliding-window inference and per-class Dice on region masks.
 * `heads` selects which classes to evaluate; each case is evaluated only on the selected classes of
 * its own dataset. `output` is the model's output layout (checkpoint manifest `output`; default
 * sigmoid): with sigmoid outputs the classes are matched to the model's heads by dataset and name and
 * thresholded at 0.5; with a softmax output every channel is predicted, argmax'ed into a label map
 * and each class's labels taken from it (infer/class-masks.ts). Returns one metric per selected class
 * that has at least one case of its dataset, in `heads` order.
 */
export async function evaluateModel(
  model: UNet,
  heads: readonly HeadSpec[],
  cases: readonly PreprocessedCase[],
  inference: InferenceSpec,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
  output: OutputLayout = { activation: 'sigmoid' },
): Promise<ClassMetric[]> {
  const channel = heads.map((h) => {
    if (output.activation === 'softmax') return -1; // every channel is predicted
    const i = model.heads.findIndex((m) => m.dataset === h.dataset && m.name === h.name);
    if (i < 0) throw new Error(`the model has no head '${h.dataset}/${h.name}' (it has ${model.heads.map((m) => `${m.dataset}/${m.name}`).join(', ')})`);
    return i;
  });
  const perCase: Record<string, number | null>[] = heads.map(() => ({}));
  let done = 0;
  onProgress?.(0, cases.length);
  for (const c of cases) {
    const mine = heads.map((h, k) => (h.dataset === c.dataset ? k : -1)).filter((k) => k >= 0);
    if (mine.length > 0) {
      const probs = await slidingWindowPredict(model, c.image, c.shape, {
        ...inference,
        heads: output.activation === 'softmax' ? undefined : mine.map((k) => channel[k]),
        activation: output.activation,
        signal,
      });
      const masks = classMasksFromProbabilities(output, probs, mine.map((k) => heads[k]));
      mine.forEach((k, j) => {
        perCase[k][c.id] = dice(masks[j], regionMask(c.label, heads[k].labels));
      });
    }
    done++;
    onProgress?.(done, cases.length);
  }
  const out: ClassMetric[] = [];
  heads.forEach((h, k) => {
    if (!cases.some((c) => c.dataset === h.dataset)) return;
    out.push({ dataset: h.dataset, name: h.name, dice: meanDefined(Object.values(perCase[k])), perCase: perCase[k] });
  });
  return out;
}
