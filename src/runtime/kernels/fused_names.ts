// The project's fused ops as named kernels: the contract between the ops (model/fused.ts,
// loss/fused.ts: one op each, with its argument checks and one registered gradient) and the
// kernels registered under these names per backend (kernels/fused_cpu.ts for 'cpu' and 'wasm',
// webgpu/fused_kernels.ts for 'webgpu'), as tfjs's own fused ops are built. A backend without a
// kernel of a name gets the op's composition of tfjs ops instead.
//
// Shapes are channels-last; "stats" and "sums" outputs are saved for the gradient kernel of the
// same backend, and their layout is that backend's own.

/** y = LeakyReLU(InstanceNorm(x + bias) * scale + offset). Inputs x [B,D,H,W,C], bias, scale, offset [C]. Outputs [y, stats [B, 2, C] (mean, rstd)]. */
export const BIAS_NORM_ACT = 'MtcBiasNormAct';
/** Inputs dy, x, y, scale, offset, stats. Outputs [dx, dbias, dscale, doffset]. */
export const BIAS_NORM_ACT_GRAD = 'MtcBiasNormActGrad';
export interface BiasNormActAttrs {
  eps: number;
  slope: number;
}

/** [a | b] along the channel axis. Inputs a [.., Ca], b [.., Cb]. */
export const CONCAT_CHANNELS = 'MtcConcatChannels';
/** Input dy [.., Ca + Cb]; attrs { channels: Ca }. Outputs [da, db]. */
export const SPLIT_CHANNELS = 'MtcSplitChannels';
export interface SplitChannelsAttrs {
  channels: number;
}

/** x [N, C] + bias [C]. */
export const ADD_BIAS = 'MtcAddBias';
/** Per-channel sums of x [N, C] -> [C] (the bias gradient). */
export const COLUMN_SUMS = 'MtcColumnSums';

/** x [B, D, H, W, sz*sy*sx*C] -> [B, D*sz, H*sy, W*sx, C] + bias [C]; attrs { stride }. */
export const DEPTH_TO_SPACE_BIAS = 'MtcDepthToSpaceBias';
/** Input dy [B, D*sz, H*sy, W*sx, C]; attrs { stride }. Outputs [dx, dbias]. */
export const DEPTH_TO_SPACE_BIAS_GRAD = 'MtcDepthToSpaceBiasGrad';
export interface DepthToSpaceAttrs {
  stride: [number, number, number];
}

/** A transposed-conv weight [sz, sy, sx, out, in] as the 1x1x1 conv filter [1, 1, 1, in, sz*sy*sx*out]. */
export const UPSAMPLE_FILTER = 'MtcUpsampleFilter';
/** Input dy [1, 1, 1, in, sz*sy*sx*out]; attrs { weightShape }. Output the weight's gradient. */
export const UPSAMPLE_FILTER_GRAD = 'MtcUpsampleFilterGrad';
export interface UpsampleFilterGradAttrs {
  weightShape: [number, number, number, number, number];
}

/** LeakyReLU(a + b) of same-shape tensors (a residual block's end); attrs { slope }. */
export const RESIDUAL_ACT = 'MtcResidualAct';
/** Inputs y (the op's output), dy; attrs { slope }. Output dy * (y > 0 ? 1 : slope). */
export const RESIDUAL_ACT_GRAD = 'MtcResidualActGrad';
export interface ResidualActAttrs {
  slope: number;
}

/**
 * The sigmoid Dice + BCE family (loss/sigmoid-dice-bce.ts). Inputs logits, targets [B,D,H,W,C],
 * mask [B, C]; attrs: the family's spec. Outputs [loss (scalar), sums [4 * B * C]].
 */
export const SIGMOID_DICE_BCE = 'MtcSigmoidDiceBce';
/** Inputs dy (scalar), logits, targets, mask, sums. Output d(loss)/d(logits). */
export const SIGMOID_DICE_BCE_GRAD = 'MtcSigmoidDiceBceGrad';

/** nnU-Net's softmax Dice + CE (loss/softmax-dice-ce.ts). Inputs logits, targets. Outputs [loss, sums [3 * B * C]]. */
export const SOFTMAX_DICE_CE = 'MtcSoftmaxDiceCe';
/** Inputs dy (scalar), logits, targets, sums. Output d(loss)/d(logits). */
export const SOFTMAX_DICE_CE_GRAD = 'MtcSoftmaxDiceCeGrad';

/** Every fused kernel name (forward and gradient), e.g. for audits of what a step runs. */
export const FUSED_KERNEL_NAMES = [
  BIAS_NORM_ACT, BIAS_NORM_ACT_GRAD, CONCAT_CHANNELS, SPLIT_CHANNELS, ADD_BIAS, COLUMN_SUMS,
  DEPTH_TO_SPACE_BIAS, DEPTH_TO_SPACE_BIAS_GRAD, UPSAMPLE_FILTER, UPSAMPLE_FILTER_GRAD,
  RESIDUAL_ACT, RESIDUAL_ACT_GRAD, SIGMOID_DICE_BCE, SIGMOID_DICE_BCE_GRAD, SOFTMAX_DICE_CE, SOFTMAX_DICE_CE_GRAD,
] as const;

// SwinUNETR's attention ops (model/attention.ts). Host kernels for 'cpu' and 'wasm'
// (kernels/attention_cpu.ts); other backends compute the ops' tfjs compositions.

/**
 * Window attention: softmax(q k^T * scale + relative-position bias (+ shifted-window mask)) v.
 * Inputs q, k, v [G * heads, n, hd] (G = batch * windows, window-major), table [rows, heads], index
 * [n * n] (the table row of each token pair), mask [windows, n * n] (optional). Outputs
 * [out [G * heads, n, hd], attn [G * heads, n, n] (the probabilities, saved for the gradient)].
 */
export const WINDOW_ATTENTION = 'MtcWindowAttention';
/** Inputs dy, q, k, v, attn, index. Outputs [dq, dk, dv, dtable [rows, heads]]. */
export const WINDOW_ATTENTION_GRAD = 'MtcWindowAttentionGrad';
export interface WindowAttentionAttrs {
  heads: number;
  /** Windows per sample (the mask's first axis), 1 without a mask. */
  windows: number;
  /** Rows of the bias table (the gradient's output). */
  rows: number;
  /** The query scale, head_dim^-0.5. */
  scale: number;
}

/**
 * Rows of each sample picked by an index: x [B, R, C], index [R'] (a row of the sample, or -1 for a
 * zero row) -> [B, R', C]. `inverse` [R] is the index of the inverse map (each row picked at most
 * once), which the gradient picks with.
 */
export const GATHER_ROWS = 'MtcGatherRows';

/** The attention kernel names (no webgpu kernels: the compositions run there). */
export const ATTENTION_KERNEL_NAMES = [WINDOW_ATTENTION, WINDOW_ATTENTION_GRAD, GATHER_ROWS] as const;
