/**
 * The sigmoid Dice + BCE family: the MultiTalent loss (paper eq. 2) and nnU-Net's region-based
 * DC_and_BCE_loss are the same computation with different reductions, so they share one definition
 * here, one fused cpu op (./fused.ts) and one set of WGSL programs (../webgpu/fused_loss.ts).
 *
 * Logits z and binary region targets g are [B, N voxels, C classes]; p = sigmoid(z); the mask
 * m[b, c] is 1 where case b's dataset annotates class c. Per (case, class) sums over the voxels:
 *   S_bce[b,c] = sum_i BCE-with-logits(z, g)   (max(z,0) - z g + log(1 + e^-|z|)),
 *   S_pg = sum_i p g,  S_p = sum_i p,  S_g = sum_i g.
 * Dice groups j: with `batchDice`, one per class c (pooled over the cases that annotate it):
 *   I_c = sum_b m S_pg,  D_c = sum_b m (S_p + S_g),  counted when sum_b m > 0;
 * else one per annotated (case, class):  I_bc = m S_pg,  D_bc = m (S_p + S_g).
 *   Dice_j = (2 I_j + s) / max(D_j + s, eps)   (s: smoothing, eps: denominator clamp).
 * BCE = sum_{b,c} m S_bce / N. With M = sum m (annotated pairs) and G = the number of Dice groups:
 *   reduction 'sum'  (MultiTalent):  L = BCE - sum_j Dice_j        (s = 0, eps = 1e-7)
 *   reduction 'mean' (nnU-Net):      L = BCE / M - sum_j Dice_j / G (s = 1e-5, eps = 1e-8)
 * so with every class annotated, 'mean' is nnU-Net's mean BCE over all elements minus the mean Dice
 * over classes (batch Dice) or over (case, class) pairs (sample Dice). M = 0 or G = 0 gives 0 terms.
 *
 * Gradient, dL/dz[b,i,c] = u (p - g) - p (1 - p) (v g - w) with per-(b, c) coefficients
 *   u = wB m / N,  v = wD m 2 / Dc_j,  w = wD m (2 I_j + s) / Dc_j^2 (0 where D_j + s < eps, where the
 *   clamp holds the denominator constant),  Dc_j = max(D_j + s, eps),  j the group of (b, c),
 * wB = 1 / M or 1, wD = 1 / G or 1 (mean / sum); all 0 where m = 0 (unannotated entries get none).
 */
import * as tf from '@tensorflow/tfjs';
import { DICE_DENOMINATOR_MIN, NNUNET_DICE_DENOMINATOR_MIN, NNUNET_DICE_SMOOTH } from './constants.js';

export interface SigmoidDiceBceSpec {
  /** Dice pooled over the batch per class (true), or per annotated (case, class). */
  batchDice: boolean;
  /** 'sum': MultiTalent's sums over classes; 'mean': nnU-Net's means. */
  reduction: 'sum' | 'mean';
  /** Added to the Dice numerator and denominator. */
  smooth: number;
  /** Lower clamp of the (smoothed) Dice denominator. */
  denominatorMin: number;
}

/** The MultiTalent loss (paper eq. 2; `batchDice` false: the authors' per-case Dice). */
export function multiTalentSpec(batchDice = true): SigmoidDiceBceSpec {
  return { batchDice, reduction: 'sum', smooth: 0, denominatorMin: DICE_DENOMINATOR_MIN };
}

/** nnU-Net v2's region-based DC_and_BCE_loss (MemoryEfficientSoftDiceLoss, do_bg true, smooth 1e-5). */
export function nnUNetRegionSpec(batchDice = true): SigmoidDiceBceSpec {
  return { batchDice, reduction: 'mean', smooth: NNUNET_DICE_SMOOTH, denominatorMin: NNUNET_DICE_DENOMINATOR_MIN };
}

export function checkLossShapes(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D): void {
  const [b, , , , c] = logits.shape;
  if (targets.shape.join(',') !== logits.shape.join(',')) {
    throw new Error(`loss: targets [${targets.shape.join(', ')}] do not match logits [${logits.shape.join(', ')}]`);
  }
  if (mask.shape[0] !== b || mask.shape[1] !== c) {
    throw new Error(`loss: mask [${mask.shape.join(', ')}] must be [${b}, ${c}]`);
  }
}

export interface SigmoidDiceBceParts {
  /** Scalar total loss L. */
  loss: tf.Scalar;
  /** Per class sum_b m S_bce / N [C] (0 for classes no case annotates). */
  bce: tf.Tensor1D;
  /** Per class Dice [C]: the batch Dice, or the sum of the per-case Dice of the cases annotating it (0 where none does). */
  dice: tf.Tensor1D;
  /** 1 for classes annotated by at least one case of the batch, else 0 [C]. */
  annotated: tf.Tensor1D;
}

/**
 * The family's loss as a composition of tfjs ops (differentiable by tfjs; the reference the fused
 * versions are tested against, and the implementation on backends without them).
 */
export function sigmoidDiceBceParts(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D, spec: SigmoidDiceBceSpec): SigmoidDiceBceParts {
  checkLossShapes(logits, targets, mask);
  const { smooth: s, denominatorMin: eps } = spec;
  return tf.tidy(() => {
    const spatial = [1, 2, 3];
    const bceVox = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    const bcePerCase = tf.mean(bceVox, spatial) as tf.Tensor2D; // [B, C] = S_bce / N
    const bce = tf.sum(tf.mul(mask, bcePerCase), 0) as tf.Tensor1D; // [C]

    const p = tf.sigmoid(logits);
    const inter = tf.mul(mask, tf.sum(tf.mul(p, targets), spatial)) as tf.Tensor2D; // [B, C]
    const den = tf.mul(mask, tf.add(tf.sum(p, spatial), tf.sum(targets, spatial))) as tf.Tensor2D;
    const caseAnnotated = tf.cast(tf.greater(mask, 0), 'float32') as tf.Tensor2D;
    const annotated = tf.cast(tf.greater(tf.sum(mask, 0), 0), 'float32') as tf.Tensor1D;
    const diceOf = (i: tf.Tensor, d: tf.Tensor) => tf.div(tf.add(tf.mul(i, 2), s), tf.maximum(tf.add(d, s), eps));
    let dice: tf.Tensor1D;
    let groups: tf.Scalar;
    if (spec.batchDice) {
      dice = tf.mul(annotated, diceOf(tf.sum(inter, 0), tf.sum(den, 0))) as tf.Tensor1D;
      groups = tf.sum(annotated);
    } else {
      dice = tf.sum(tf.mul(caseAnnotated, diceOf(inter, den)), 0) as tf.Tensor1D;
      groups = tf.sum(caseAnnotated);
    }
    let bceTerm = tf.sum(bce) as tf.Scalar;
    let diceTerm = tf.sum(dice) as tf.Scalar;
    if (spec.reduction === 'mean') {
      bceTerm = tf.div(bceTerm, tf.maximum(tf.sum(mask), 1));
      diceTerm = tf.div(diceTerm, tf.maximum(groups, 1));
    }
    const loss = tf.sub(bceTerm, diceTerm) as tf.Scalar;
    return { loss, bce, dice, annotated };
  });
}

/**
 * The scalar loss and its logit-gradient coefficients from the per-(case, class) sums, in float64
 * (see the module comment). `stats` is [4][B * C]: S_bce, S_pg, S_p, S_g; `mask` is [B * C].
 */
export function combineSigmoidStats(
  stats: Float64Array,
  mask: ArrayLike<number>,
  dims: { B: number; N: number; C: number },
  spec: SigmoidDiceBceSpec,
): { loss: number; coefficients: (scale: number) => Float32Array } {
  const { B, N, C } = dims;
  const BC = B * C;
  const { smooth: s, denominatorMin: eps } = spec;
  const msum = new Float64Array(C);
  const inter = new Float64Array(C);
  const den = new Float64Array(C);
  let bce = 0;
  let M = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const k = b * C + c;
      const mk = mask[k];
      msum[c] += mk;
      M += mk;
      bce += (mk * stats[k]) / N;
      inter[c] += mk * stats[BC + k];
      den[c] += mk * (stats[2 * BC + k] + stats[3 * BC + k]);
    }
  }
  let dice = 0;
  let G = 0;
  if (spec.batchDice) {
    for (let c = 0; c < C; c++) {
      if (!(msum[c] > 0)) continue;
      G++;
      dice += (2 * inter[c] + s) / Math.max(den[c] + s, eps);
    }
  } else {
    for (let k = 0; k < BC; k++) {
      if (!(mask[k] > 0)) continue;
      G++;
      const mk = mask[k];
      dice += (2 * mk * stats[BC + k] + s) / Math.max(mk * (stats[2 * BC + k] + stats[3 * BC + k]) + s, eps);
    }
  }
  const mean = spec.reduction === 'mean';
  const wB = mean ? 1 / Math.max(M, 1) : 1;
  const wD = mean ? 1 / Math.max(G, 1) : 1;
  const loss = wB * bce - wD * dice;
  const coefficients = (scale: number): Float32Array => {
    const coef = new Float32Array(3 * BC);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const k = b * C + c;
        const mk = mask[k];
        if (!(msum[c] > 0) || mk === 0) continue;
        const I = spec.batchDice ? inter[c] : mk * stats[BC + k];
        const D = spec.batchDice ? den[c] : mk * (stats[2 * BC + k] + stats[3 * BC + k]);
        const dc = Math.max(D + s, eps);
        const f = scale * mk;
        coef[k] = (f * wB) / N;
        coef[BC + k] = (2 * f * wD) / dc;
        coef[2 * BC + k] = D + s >= eps ? (f * wD * (2 * I + s)) / (dc * dc) : 0;
      }
    }
    return coef;
  };
  return { loss, coefficients };
}
