// A tfjs 'Transpose' kernel for backend 'cpu' with a fast path for float32 permutations that are a
// (batched) matrix transpose once neighbouring axes that stay together are merged: what tfjs's Sum
// and Mean do before reducing leading axes (the validation's per-channel counts over [B, z, y, x],
// the losses' compositions), and the depth-to-space layouts. tfjs's own kernel computes every
// element's coordinates; this one copies in cache-sized tiles. Anything else goes to tfjs.
import * as tf from '@tensorflow/tfjs';

import { asCpu, f32 } from './cpu_backend.js';
import { hostAlloc } from './host_ops.js';

/**
 * The permutation with runs of input axes that stay adjacent (and in order) in `perm` merged, and
 * size-1 axes dropped: the merged input shape and the merged permutation.
 */
export function mergeTransposeAxes(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  // Size-1 axes move nothing: drop them and renumber the others in input order.
  const kept = shape.map((_, a) => a).filter((a) => shape[a] !== 1);
  const index = new Map(kept.map((a, i) => [a, i]));
  const p = perm.filter((a) => shape[a] !== 1).map((a) => index.get(a)!);
  const sizes = kept.map((a) => shape[a]);
  // Groups of consecutive input axes, in output order.
  const groups: number[][] = [];
  for (const a of p) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === a) last.push(a);
    else groups.push([a]);
  }
  // The groups ranked by their first input axis give the merged input order.
  const order = groups.map((g, i) => ({ first: g[0], i })).sort((u, v) => u.first - v.first);
  const position = new Map(order.map(({ i }, j) => [i, j]));
  return {
    shape: order.map(({ i }) => groups[i].reduce((s, a) => s * sizes[a], 1)),
    perm: groups.map((_, i) => position.get(i)!),
  };
}

const TILE = 32;

/** out[b, c, r] = x[b, r, c] for x [B, R, C], in TILE x TILE blocks. */
export function transposeBatched(x: Float32Array, B: number, R: number, C: number): Float32Array {
  const out = hostAlloc(B * R * C);
  for (let b = 0; b < B; b++) {
    const base = b * R * C;
    for (let r0 = 0; r0 < R; r0 += TILE) {
      const r1 = Math.min(R, r0 + TILE);
      for (let c0 = 0; c0 < C; c0 += TILE) {
        const c1 = Math.min(C, c0 + TILE);
        for (let r = r0; r < r1; r++) {
          const src = base + r * C;
          for (let c = c0; c < c1; c++) out[base + c * R + r] = x[src + c];
        }
      }
    }
  }
  return out;
}

export function makeFastTransposeKernel(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as unknown as tf.TransposeAttrs;
    const backend = asCpu(args.backend);
    if (backend && perm.length === x.shape.length) {
      const xv = f32(backend, x);
      if (xv && xv.length > 0) {
        const outShape = perm.map((a) => x.shape[a]);
        const m = mergeTransposeAxes(x.shape, perm);
        if (m.perm.length <= 1) return backend.makeTensorInfo(outShape, 'float32', Float32Array.from(xv));
        if (m.perm.length === 2 && m.perm[0] === 1) {
          return backend.makeTensorInfo(outShape, 'float32', transposeBatched(xv, 1, m.shape[0], m.shape[1]));
        }
        if (m.perm.length === 3 && m.perm[0] === 0 && m.perm[1] === 2 && m.perm[2] === 1) {
          return backend.makeTensorInfo(outShape, 'float32', transposeBatched(xv, m.shape[0], m.shape[1], m.shape[2]));
        }
      }
    }
    return original.kernelFunc(args);
  };
  return { kernelName: 'Transpose', backendName: 'cpu', kernelFunc };
}
