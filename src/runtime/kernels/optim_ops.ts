// Optimiser steps over host (JavaScript-memory) parameter arrays, for the optimisers' host paths
// in train/optimizer.ts: SGD with (Nesterov) momentum and weight decay, AdamW, the global L2 norm of
// the gradients and their scaling (gradient-norm clipping). Each runs on the native addon
// (native/conv3d/optim*.cpp: every tensor in one call, all pool threads, SIMD) when it is built,
// else in the JavaScript below. Both compute in double in the same order and round to float32 at
// the same points, so native and JavaScript results are bit-identical, whatever the instruction-set
// build or thread count (tested).
import { hostAddon, hostAlloc } from './host_ops.js';

export interface SgdHyper {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

export interface SgdTensorState {
  w: Float32Array;
  g: Float32Array;
  /** Momentum buffer, updated in place (unused when momentum is 0). */
  buf: Float32Array;
  /** True on the tensor's first update: the buffer starts as the gradient. */
  first: boolean;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamTensorState {
  w: Float32Array;
  g: Float32Array;
  /** First and second moments, updated in place. */
  m: Float32Array;
  v: Float32Array;
  /** AMSGrad: the running maximum of v, updated in place (the step divides by it). */
  vmax?: Float32Array;
  /** The tensor's step count including this one (1 on its first update). */
  t: number;
}

/** Elements per block of the gradient-norm sum: blocks are summed in order, lanes within a block. */
const NORM_BLOCK = 32768;
const NORM_LANES = 16;

/**
 * torch.optim.SGD (dampening 0): g += wd * w; buf = mu * buf + g (buf = g on the first step);
 * step = nesterov ? g + mu * buf : buf; w -= lr * step. Returns the new weights (fresh arrays);
 * the momentum buffers are updated in place.
 */
export function sgdStep(tensors: readonly SgdTensorState[], h: SgdHyper): Float32Array[] {
  const outs = tensors.map((t) => hostAlloc(t.w.length));
  const a = hostAddon();
  if (a?.sgdStep) {
    const first = Uint8Array.from(tensors, (t) => (t.first ? 1 : 0));
    a.sgdStep(tensors.map((t) => t.w), tensors.map((t) => t.g), tensors.map((t) => t.buf), outs, first, h.lr, h.momentum, h.nesterov, h.weightDecay);
    return outs;
  }
  const { lr, momentum: mu, nesterov, weightDecay: wd } = h;
  tensors.forEach(({ w, g: gr, buf, first }, i) => {
    const out = outs[i];
    for (let k = 0; k < w.length; k++) {
      const g = gr[k] + wd * w[k];
      let step = g;
      if (mu !== 0) {
        const b = first ? g : mu * buf[k] + g;
        buf[k] = b;
        step = nesterov ? g + mu * b : b;
      }
      out[k] = w[k] - lr * step;
    }
  });
  return outs;
}

/**
 * torch.optim.AdamW: w *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps); with AMSGrad (every tensor given a
 * `vmax`), vmax = max(vmax, v) replaces v in the step. Returns the new weights; the moments are
 * updated in place.
 */
export function adamwStep(tensors: readonly AdamTensorState[], h: AdamHyper): Float32Array[] {
  const outs = tensors.map((t) => hostAlloc(t.w.length));
  const { lr, beta1, beta2, eps } = h;
  const decay = 1 - lr * h.weightDecay;
  const bc1 = Float64Array.from(tensors, (t) => 1 - beta1 ** t.t);
  const bc2 = Float64Array.from(tensors, (t) => 1 - beta2 ** t.t);
  const amsgrad = tensors.length > 0 && tensors.every((t) => t.vmax !== undefined);
  if (!amsgrad && tensors.some((t) => t.vmax !== undefined)) throw new Error('adamwStep: AMSGrad needs a vmax for every tensor');
  const a = hostAddon();
  if (a?.adamwStep) {
    const vmax = amsgrad ? tensors.map((t) => t.vmax as Float32Array) : null;
    a.adamwStep(tensors.map((t) => t.w), tensors.map((t) => t.g), tensors.map((t) => t.m), tensors.map((t) => t.v), vmax, outs, bc1, bc2, lr, beta1, beta2, eps, decay);
    return outs;
  }
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  tensors.forEach(({ w, g: gr, m, v, vmax }, i) => {
    const out = outs[i];
    for (let k = 0; k < w.length; k++) {
      const g = gr[k];
      const mk = beta1 * m[k] + c1 * g;
      const vk = beta2 * v[k] + c2 * g * g;
      m[k] = mk;
      v[k] = vk;
      let second = vk;
      if (vmax) {
        const prev = vmax[k];
        second = vk > prev ? vk : prev;
        vmax[k] = second;
      }
      const mhat = mk / bc1[i];
      const vhat = second / bc2[i];
      out[k] = w[k] * decay - lr * (mhat / (Math.sqrt(vhat) + eps));
    }
  });
  return outs;
}

/**
 * Sum of squares of every array, in double: fixed blocks of each array (in order), each summed in
 * 16 lanes (lane l takes elements l, l + 16, ...) that are then added in order.
 */
export function sumOfSquares(arrays: readonly Float32Array[]): number {
  const a = hostAddon();
  if (a?.sumSquares) return a.sumSquares([...arrays]);
  const lanes = new Float64Array(NORM_LANES);
  let total = 0;
  for (const x of arrays) {
    for (let b = 0; b < x.length; b += NORM_BLOCK) {
      const e = Math.min(x.length, b + NORM_BLOCK);
      lanes.fill(0);
      for (let i = b; i < e; i++) {
        const d = x[i];
        lanes[(i - b) % NORM_LANES] += d * d;
      }
      let s = 0;
      for (let l = 0; l < NORM_LANES; l++) s += lanes[l];
      total += s;
    }
  }
  return total;
}

/** x * float32(coef) for every array, as fresh arrays. */
export function scaleArrays(arrays: readonly Float32Array[], coef: number): Float32Array[] {
  const outs = arrays.map((x) => hostAlloc(x.length));
  const a = hostAddon();
  if (a?.scaleArrays) {
    a.scaleArrays([...arrays], coef, outs);
    return outs;
  }
  const c = Math.fround(coef);
  arrays.forEach((x, i) => {
    const out = outs[i];
    for (let k = 0; k < x.length; k++) out[k] = x[k] * c;
  });
  return outs;
}
