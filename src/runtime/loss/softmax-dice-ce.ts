/**
 * nnU-Net v2's DC_and_CE_loss for label maps (its default for datasets without regions):
 * cross-entropy over a softmax of all channels, background included, plus the soft Dice of the
 * foreground channels (MemoryEfficientSoftDiceLoss with do_bg false, smooth 1e-5), each weight 1:
 *
 * Logits z and one-hot targets g are [B, N voxels, C channels], channel 0 the background;
 * p = softmax over the channels.
 *   CE   = 1 / (B N) sum_{b,i} sum_c g (logsumexp_c z - z_c)     (nn.CrossEntropyLoss, mean)
 *   per (b, c): I = sum_i p g, D = sum_i p + sum_i g
 *   Dice groups: foreground channels c >= 1, pooled over the batch (`batchDice`: I_c = sum_b I,
 *   D_c = sum_b D), or one group per (case, foreground channel);
 *   Dice_j = (2 I_j + s) / max(D_j + s, eps),  s = 1e-5, eps = 1e-8
 *   L = CE - mean_j Dice_j          (nnU-Net's Dice loss is the negative mean Dice)
 * Gradient: with q_c = dL/dp_c = w_bc - v_bc g_c for c >= 1 (0 for the background),
 *   v = 2 / (G Dc_j), w = (2 I_j + s) / (G Dc_j^2) (0 where D_j + s < eps), Dc_j = max(D_j + s, eps),
 *   G the number of Dice groups:  dL/dz_k = (p_k sum_c g_c - g_k) / (B N) + p_k (q_k - sum_c p_c q_c).
 *
 * The [B, C] mask of the other losses is accepted for a uniform signature and not read: this loss
 * trains one dataset, whose cases annotate every label.
 */
import * as tf from '@tensorflow/tfjs';
import { hostAlloc } from '../kernels/host_ops.js';
import { NNUNET_DICE_DENOMINATOR_MIN, NNUNET_DICE_SMOOTH } from './constants.js';

export interface SoftmaxDiceCeSpec {
  /** Dice pooled over the batch per channel (nnU-Net's batch_dice), else per (case, channel). */
  batchDice: boolean;
  smooth: number;
  denominatorMin: number;
}

export function nnUNetSoftmaxSpec(batchDice = true): SoftmaxDiceCeSpec {
  return { batchDice, smooth: NNUNET_DICE_SMOOTH, denominatorMin: NNUNET_DICE_DENOMINATOR_MIN };
}

export function checkChannels(logits: tf.Tensor5D): void {
  if (logits.shape[4] < 2) throw new Error(`loss dice_ce (softmax): needs the background and at least one label channel, got ${logits.shape[4]} channel(s)`);
}

export interface SoftmaxDiceCeParts {
  loss: tf.Scalar;
  ce: tf.Scalar;
  /** Mean Dice over the Dice groups (the loss's Dice term, with its sign flipped). */
  dice: tf.Scalar;
}

/** The loss as a composition of tfjs ops on [B, N, C] views (the reference of the fused versions). */
export function softmaxDiceCeParts(logits: tf.Tensor5D, targets: tf.Tensor5D, spec: SoftmaxDiceCeSpec): SoftmaxDiceCeParts {
  checkChannels(logits);
  const [B, D, H, W, C] = logits.shape;
  const N = D * H * W;
  const { smooth: s, denominatorMin: eps } = spec;
  return tf.tidy(() => {
    const z = tf.reshape(logits, [B, N, C]);
    const g = tf.reshape(targets, [B, N, C]);
    const lse = tf.logSumExp(z, 2, true);
    const ce = tf.div(tf.sum(tf.mul(g, tf.sub(lse, z))), B * N) as tf.Scalar;
    const p = tf.softmax(z, 2);
    const fg = (t: tf.Tensor) => tf.slice(t, [0, 1], [B, C - 1]);
    let inter = fg(tf.sum(tf.mul(p, g), 1));
    let den = fg(tf.add(tf.sum(p, 1), tf.sum(g, 1)));
    if (spec.batchDice) {
      inter = tf.sum(inter, 0);
      den = tf.sum(den, 0);
    }
    const dice = tf.mean(tf.div(tf.add(tf.mul(inter, 2), s), tf.maximum(tf.add(den, s), eps))) as tf.Scalar;
    return { loss: tf.sub(ce, dice) as tf.Scalar, ce, dice };
  });
}

/** Softmax of the C logits at z[o ..] into p (max-shifted); returns their logsumexp. */
function softmaxAt(z: Float32Array, o: number, C: number, p: Float64Array): number {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, z[o + c]);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += p[c] = Math.exp(z[o + c] - max);
  for (let c = 0; c < C; c++) p[c] /= sum;
  return max + Math.log(sum);
}

/** Per (case, channel) sums of the softmax loss: [3][B * C] = S_pg, S_p, S_g; and the loss, in float64. */
export function softmaxDiceCeForward(
  z: Float32Array, g: Float32Array, d: { B: number; N: number; C: number }, spec: SoftmaxDiceCeSpec,
): { loss: number; sums: Float64Array } {
  const { B, N, C } = d;
  const BC = B * C;
  const sums = new Float64Array(3 * BC);
  const p = new Float64Array(C);
  let ce = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      const o = (b * N + i) * C;
      const lse = softmaxAt(z, o, C, p);
      for (let c = 0; c < C; c++) {
        const gv = g[o + c];
        const pv = p[c];
        const k = b * C + c;
        ce += gv * (lse - z[o + c]);
        sums[k] += pv * gv;
        sums[BC + k] += pv;
        sums[2 * BC + k] += gv;
      }
    }
  }
  const { inter, den, groups, groupOf } = diceGroups(sums, d, spec);
  const { smooth: s, denominatorMin: eps } = spec;
  let dice = 0;
  for (let b = 0; b < (spec.batchDice ? 1 : B); b++) {
    for (let c = 1; c < C; c++) {
      const j = groupOf(b, c);
      dice += (2 * inter[j] + s) / Math.max(den[j] + s, eps);
    }
  }
  return { loss: ce / (B * N) - dice / groups, sums };
}

/** Dice groups: per foreground channel (batch) or per (case, foreground channel), from the sums. */
function diceGroups(sums: Float64Array, d: { B: number; C: number }, spec: SoftmaxDiceCeSpec) {
  const { B, C } = d;
  const BC = B * C;
  const groupOf = (b: number, c: number) => (spec.batchDice ? c : b * C + c);
  const inter = new Float64Array(BC);
  const den = new Float64Array(BC);
  for (let b = 0; b < B; b++) {
    for (let c = 1; c < C; c++) {
      const k = b * C + c;
      inter[groupOf(b, c)] += sums[k];
      den[groupOf(b, c)] += sums[BC + k] + sums[2 * BC + k];
    }
  }
  return { inter, den, groups: spec.batchDice ? C - 1 : B * (C - 1), groupOf };
}

/** d(loss)/d(logits) times `scale` from the forward's sums (see the module comment). */
export function softmaxDiceCeBackward(
  z: Float32Array, g: Float32Array, sums: Float64Array, d: { B: number; N: number; C: number }, spec: SoftmaxDiceCeSpec, scale: number,
): Float32Array {
  const { B, N, C } = d;
  const BC = B * C;
  const { smooth: s, denominatorMin: eps } = spec;
  const { inter, den, groups, groupOf } = diceGroups(sums, d, spec);
  const v = new Float64Array(BC);
  const w = new Float64Array(BC);
  for (let b = 0; b < B; b++) {
    for (let c = 1; c < C; c++) {
      const j = groupOf(b, c);
      const dc = Math.max(den[j] + s, eps);
      v[b * C + c] = (scale * 2) / (groups * dc);
      w[b * C + c] = den[j] + s >= eps ? (scale * (2 * inter[j] + s)) / (groups * dc * dc) : 0;
    }
  }
  const u = scale / (B * N);
  const dz = hostAlloc(z.length);
  const p = new Float64Array(C);
  const q = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      const o = (b * N + i) * C;
      softmaxAt(z, o, C, p);
      let gsum = 0;
      let dot = 0;
      for (let c = 0; c < C; c++) {
        const k = b * C + c;
        q[c] = c === 0 ? 0 : w[k] - v[k] * g[o + c];
        gsum += g[o + c];
        dot += p[c] * q[c];
      }
      for (let c = 0; c < C; c++) dz[o + c] = u * (p[c] * gsum - g[o + c]) + p[c] * (q[c] - dot);
    }
  }
  return dz;
}
