import type { HeadSpec, InferenceSpec, Vec3 } from '../../graph/types.js';
import { regionMask } from '../data/regions.js';
import type { PreprocessedCase } from '../data/types.js';
import type { ClassMetric } from '../events.js';
import { maskInCanonicalGrid } from '../infer/export.js';
import { type PredictorNetwork, slidingWindow, threshold } from '../infer/sliding-window.js';
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
  /** Output activation (default sigmoid). */
  activation?: 'sigmoid' | 'softmax';
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
  const channel = heads.map((h) => {
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
      await slidingWindow(networks, c.image, c.shape, { ...inference, heads: mine.map((k) => channel[k]), activation: options.activation, signal }, (g) => {
        probs.push(...g.probabilities);
      });
      mine.forEach((k, j) => {
        let pred: Uint8Array;
        let label: Uint8Array;
        let shape: Vec3;
        let spacing: Vec3;
        if (ref && c.source) {
          pred = maskInCanonicalGrid(probs[j], { shape: c.shape, spacing: c.spacing }, c.source);
          label = ref.label;
          shape = ref.shape;
          spacing = ref.spacing;
        } else {
          pred = threshold(probs[j], 0.5);
          label = c.label;
          shape = c.shape;
          spacing = c.spacing;
        }
        const region = regionMask(label, heads[k].labels);
        perCase[k][c.id] = dice(pred, region);
        if (withHd) {
          const h = hd95(pred, region, shape, spacing);
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
