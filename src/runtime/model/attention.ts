import * as tf from '@tensorflow/tfjs';
import { attentionHostKernels } from '../kernels/attention_cpu.js';
import { registerKernels } from '../kernels/fused_cpu.js';
import { GATHER_ROWS, WINDOW_ATTENTION, WINDOW_ATTENTION_GRAD, type WindowAttentionAttrs } from '../kernels/fused_names.js';
import { firstDy, hasFusedKernel, runFusedKernel } from './fused.js';

/**
 * SwinUNETR's attention ops, built as ./fused.ts builds the U-Net's: one named kernel per op with one
 * registered gradient, host kernels for 'cpu' and 'wasm' (../kernels/attention_cpu.ts, registered
 * when this module loads), and elsewhere (webgpu) a composition of tfjs ops whose gradients are
 * lookups too (tf.gather's own gradient is an unsortedSegmentSum, which the cpu backend runs once
 * per segment).
 */

registerKernels(attentionHostKernels());

/** The constant lookups of one attention layout (see swin.ts). */
export interface AttentionTables {
  /** [n * n] int32: the bias-table row of each token pair. */
  index: tf.Tensor1D;
  /** [rows * perRow] int32: per table row the pairs reading it, padded with n * n (a zero). */
  inverse: tf.Tensor1D;
  perRow: number;
  /** [windows, n * n] 0 / -100, or null (no shift). */
  mask: tf.Tensor2D | null;
  windows: number;
}

/** Looks rows of `x` [rows, k] up at `index`; gradient: per row, the sum of its lookups (via `inverse`). */
function lookup(x: tf.Tensor2D, index: tf.Tensor1D, inverse: tf.Tensor1D, perRow: number): tf.Tensor2D {
  const [rows, k] = x.shape;
  const n = index.size;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.gather(args[0] as tf.Tensor, index),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
      const padded = tf.concat([tf.reshape(firstDy(dy), [n, k]), tf.zeros([1, k])], 0);
      return tf.sum(tf.reshape(tf.gather(padded, inverse), [rows, perRow, k]), 1);
    },
  }));
  return f(x) as tf.Tensor2D;
}

/**
 * softmax(q k^T * scale + relative-position bias (+ mask)) v for q, k, v [G * heads, n, hd]
 * (G = batch * windows, window-major, head-minor) and `table` [rows, heads]. Returns [G * heads, n, hd].
 * Gradients for q, k, v and the table.
 */
export function windowAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, table: tf.Tensor2D, t: AttentionTables, heads: number): tf.Tensor3D {
  const [GH, n, hd] = q.shape;
  if (GH % heads !== 0 || k.shape.join() !== q.shape.join() || v.shape.join() !== q.shape.join()) {
    throw new Error(`attention: q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}] for ${heads} heads`);
  }
  const G = GH / heads;
  if (t.mask && G % t.windows !== 0) throw new Error(`attention: ${G} window groups for a mask of ${t.windows} windows`);
  const scale = hd ** -0.5;
  if (hasFusedKernel(WINDOW_ATTENTION)) {
    const attrs: WindowAttentionAttrs = { heads, windows: t.mask ? t.windows : 1, rows: table.shape[0], scale };
    const inputs: tf.NamedTensorMap = { q, k, v, table, index: t.index, ...(t.mask ? { mask: t.mask } : {}) };
    const [out, attn] = runFusedKernel(WINDOW_ATTENTION, inputs, attrs);
    attn.dispose(); // saved for the gradient by the tape when one is recorded
    return out as tf.Tensor3D;
  }
  return tf.tidy(() => {
    const scores = tf.reshape(tf.matMul(tf.mul(q, scale) as tf.Tensor3D, k, false, true), [G, heads * n * n]);
    const bias = tf.transpose(lookup(table, t.index, t.inverse, t.perRow)) as tf.Tensor2D; // [heads, n * n]
    let biased: tf.Tensor;
    if (t.mask) {
      const add = tf.add(tf.reshape(t.mask, [t.windows, 1, n * n]), tf.reshape(bias, [1, heads, n * n]));
      biased = tf.add(tf.reshape(scores, [G / t.windows, t.windows * heads * n * n]), tf.reshape(add, [1, t.windows * heads * n * n]));
    } else biased = tf.add(scores, tf.reshape(bias, [1, heads * n * n]));
    const attn = tf.reshape(tf.softmax(tf.reshape(biased, [GH * n, n])), [GH, n, n]) as tf.Tensor3D;
    return tf.matMul(attn, v);
  });
}

tf.registerGradient({
  kernelName: WINDOW_ATTENTION,
  inputsToSave: ['q', 'k', 'v', 'table', 'index'],
  outputsToSave: [false, true],
  gradFunc: (dy, saved, attrs) => {
    const [q, k, v, table, index, attn] = saved;
    const [dq, dk, dv, dtable] = runFusedKernel(WINDOW_ATTENTION_GRAD, { dy: firstDy(dy), q, k, v, attn, index }, attrs as unknown as object);
    return {
      q: () => dq,
      k: () => dk,
      v: () => dv,
      table: () => tf.reshape(dtable, table.shape),
      index: () => tf.zerosLike(index),
      mask: () => tf.zeros([1]),
    };
  },
});

/**
 * Rows of each sample picked by `index`: x [B, R, C] -> [B, index.size, C], -1 giving a zero row.
 * `inverse` [R] is the inverse map's index (the map picks each row at most once); the gradient is
 * the pick by `inverse`.
 */
export function gatherRows(x: tf.Tensor3D, index: tf.Tensor1D, inverse: tf.Tensor1D): tf.Tensor3D {
  if (inverse.size !== x.shape[1]) throw new Error(`gather-rows: ${x.shape[1]} rows but an inverse index of ${inverse.size}`);
  if (hasFusedKernel(GATHER_ROWS)) return runFusedKernel(GATHER_ROWS, { x, index, inverse })[0] as tf.Tensor3D;
  const pick = (v: tf.Tensor3D, idx: tf.Tensor1D): tf.Tensor3D =>
    tf.tidy(() => {
      const [B, R, C] = v.shape;
      const padded = tf.concat([v, tf.zeros([B, 1, C])], 1);
      // -1 -> R, the zero row
      const at = tf.where(tf.less(idx, 0), tf.fill(idx.shape, R, 'int32'), idx);
      return tf.gather(padded, at, 1) as tf.Tensor3D;
    });
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: pick(args[0] as tf.Tensor3D, index),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => pick(firstDy(dy) as tf.Tensor3D, inverse),
  }));
  return f(x) as tf.Tensor3D;
}

tf.registerGradient({
  kernelName: GATHER_ROWS,
  inputsToSave: ['index', 'inverse'],
  gradFunc: (dy, saved) => {
    const [index, inverse] = saved;
    return {
      x: () => runFusedKernel(GATHER_ROWS, { x: firstDy(dy), index: inverse, inverse: index })[0],
      index: () => tf.zerosLike(index),
      inverse: () => tf.zerosLike(inverse),
    };
  },
});
