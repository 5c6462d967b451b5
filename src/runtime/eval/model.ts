import type { HeadSpec, InferenceSpec, OutputLayout, Vec3 } from '../../graph/types.js';
import { regionMask } from '../data/regions.js';
import type { PreprocessedCase } from '../data/types.js';
import type { ClassMetric } from '../events.js';
import { classMasksFromProbabilities } from '../infer/class-masks.js';
import { labelMapInCanonicalGrid, maskInCanonicalGrid } from '../infer/export.js';
import { type PredictorNetwork, slidingWindow } from '../infer/sliding-window.js';
import { dice } from './dice.js';
import { hd95 } from './hd95.js';
import { meanOf } from './summary.js';

export type MetricName = 'dice' | 'hd95';

/** A case's reference label in the canonical grid of its file (the grid `source` describes). */
export interface ReferenceLabel {
  label: Uint8Array;
  shape: Vec3;
  spacing: Vec3;
}

export interface EvaluateModelOptions {
  /** Metrics to compute (default Dice only). */
  metrics?: readonly MetricName[];
  /**
   * The reference label of a case in its file's grid. When given (and the case records its `source`),
   * predictions are exported back to that grid and compared there, as nnU-Net evaluates; otherwise
   * (or when it returns null) the comparison happens in the preprocessed grid.
   */
  reference?: (c: PreprocessedCase) => Promise<ReferenceLabel | null>;
  /**
   * The model's output layout (checkpoint manifest `output`, graph/outputs.ts; default sigmoid): with
   * sigmoid outputs `heads` are matched to the model's channels by dataset and name and thresholded
   * at 0.5; with a softmax output every channel is predicted and the label of the most probable one
   * gives each class's mask.
   */
  output?: OutputLayout;
}

/**
 * Evaluates `model` on `cases` by sliding-window inference: per class Dice (and HD95 in mm when
 * asked) of the thresholded prediction against the region of the reference label. `heads` selects
 * the model's heads (matched by dataset and name); each case is evaluated only on the selected heads
 * of its own dataset. Returns one metric per selected head that has a case of its dataset, in `heads`
 * order.
 */
export async function evaluateModel(
  model: PredictorNetwork | readonly PredictorNetwork[],
  heads: readonly HeadSpec[],
  cases: readonly PreprocessedCase[],
  inference: InferenceSpec & { mirrorAxes?: number[] },
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
  options: EvaluateModelOptions = {},
): Promise<ClassMetric[]> {
  const networks = Array.isArray(model) ? (model as readonly PredictorNetwork[]) : [model as PredictorNetwork];
  const first = networks[0];
  const output: OutputLayout = options.output ?? { activation: 'sigmoid' };
  const channel = heads.map((h) => {
    if (output.activation === 'softmax') return -1; // every channel is predicted
    const i = first.heads.findIndex((m) => m.dataset === h.dataset && m.name === h.name);
    if (i < 0) throw new Error(`the model has no head '${h.dataset}/${h.name}' (it has ${first.heads.map((m) => `${m.dataset}/${m.name}`).join(', ')})`);
    return i;
  });
  const metrics = options.metrics ?? ['dice'];
  const withHd = metrics.includes('hd95');
  const perCase: Record<string, number | null>[] = heads.map(() => ({}));
  const perCaseHd: Record<string, number | null>[] = heads.map(() => ({}));
  let done = 0;
  onProgress?.(0, cases.length);
  for (const c of cases) {
    const mine = heads.map((h, k) => (h.dataset === c.dataset ? k : -1)).filter((k) => k >= 0);
    if (mine.length > 0) {
      const ref = c.source && options.reference ? await options.reference(c) : null;
      const probs: Float32Array[] = [];
      const select = output.activation === 'softmax' ? undefined : mine.map((k) => channel[k]);
      await slidingWindow(networks, c.image, c.shape, { ...inference, heads: select, activation: output.activation, signal }, (g) => {
        probs.push(...g.probabilities);
      });
      const classes = mine.map((k) => heads[k]);
      const inFileGrid = Boolean(ref && c.source);
      let masks: Uint8Array[];
      if (inFileGrid && output.activation === 'softmax') {
        const labelMap = labelMapInCanonicalGrid(probs, output.labels, { shape: c.shape, spacing: c.spacing }, c.source!);
        masks = classes.map((h) => regionMask(labelMap, h.labels));
      } else if (inFileGrid) {
        masks = probs.map((p) => maskInCanonicalGrid(p, { shape: c.shape, spacing: c.spacing }, c.source!));
      } else {
        masks = classMasksFromProbabilities(output, probs, classes);
      }
      const [label, shape, spacing] = inFileGrid && ref ? [ref.label, ref.shape, ref.spacing] : [c.label, c.shape, c.spacing];
      mine.forEach((k, j) => {
        const region = regionMask(label, heads[k].labels);
        perCase[k][c.id] = dice(masks[j], region);
        if (withHd) {
          const h = hd95(masks[j], region, shape, spacing);
          perCaseHd[k][c.id] = Number.isNaN(h) ? null : h;
        }
      });
    }
    done++;
    onProgress?.(done, cases.length);
  }
  const out: ClassMetric[] = [];
  heads.forEach((h, k) => {
    if (!cases.some((c) => c.dataset === h.dataset)) return;
    const m: ClassMetric = { dataset: h.dataset, name: h.name, dice: meanOf(Object.values(perCase[k])), perCase: perCase[k] };
    if (withHd) {
      m.hd95 = meanOf(Object.values(perCaseHd[k]));
      m.perCaseHd95 = perCaseHd[k];
    }
    out.push(m);
  });
  return out;
}
