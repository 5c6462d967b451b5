// Host kernels of SwinUNETR's attention ops (names in ./fused_names.ts) for 'cpu' and 'wasm': single
// passes over the values, where tfjs's cpu backend runs the small batched matMuls, the softmax, the
// broadcast bias add, the table lookup and the window partition as generic per-element index computations.
import type * as tf from '@tensorflow/tfjs';
import { hostKernelConfigs, type HostFn } from './fused_cpu.js';
import { GATHER_ROWS, WINDOW_ATTENTION, WINDOW_ATTENTION_GRAD, type WindowAttentionAttrs } from './fused_names.js';

const windowAttention: HostFn = ({ q, k, v, table, index, mask }, attrs) => {
  const { heads, windows, scale } = attrs as unknown as WindowAttentionAttrs;
  const [GH, n, hd] = q.shape;
  const [qv, kv, vv, t, idx] = [q.values, k.values, v.values, table.values, index.values];
  const m = mask?.values ?? null;
  const nn = n * n;
  const out = new Float32Array(GH * n * hd);
  const attn = new Float32Array(GH * nn);
  const row = new Float64Array(n);
  for (let gh = 0; gh < GH; gh++) {
    const h = gh % heads;
    const mBase = m ? (Math.floor(gh / heads) % windows) * nn : 0;
    const base = gh * n * hd;
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      const qi = base + i * hd;
      for (let j = 0; j < n; j++) {
        const kj = base + j * hd;
        let s = 0;
        for (let c = 0; c < hd; c++) s += qv[qi + c] * kv[kj + c];
        const p = i * n + j;
        s = s * scale + t[idx[p] * heads + h] + (m ? m[mBase + p] : 0);
        row[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(row[j] - max);
        row[j] = e;
        sum += e;
      }
      const a0 = gh * nn + i * n;
      const o = base + i * hd;
      for (let j = 0; j < n; j++) {
        const a = row[j] / sum;
        attn[a0 + j] = a;
        const vj = base + j * hd;
        for (let c = 0; c < hd; c++) out[o + c] += a * vv[vj + c];
      }
    }
  }
  return [
    { values: out, shape: [GH, n, hd] },
    { values: attn, shape: [GH, n, n] },
  ];
};

const windowAttentionGrad: HostFn = ({ dy, q, k, v, attn, index }, attrs) => {
  const { heads, rows, scale } = attrs as unknown as WindowAttentionAttrs;
  const [GH, n, hd] = q.shape;
  const [d, qv, kv, vv, av, idx] = [dy.values, q.values, k.values, v.values, attn.values, index.values];
  const nn = n * n;
  const dq = new Float32Array(q.values.length);
  const dk = new Float32Array(q.values.length);
  const dv = new Float32Array(q.values.length);
  const dt = new Float64Array(rows * heads);
  const ds = new Float64Array(n);
  for (let gh = 0; gh < GH; gh++) {
    const h = gh % heads;
    const base = gh * n * hd;
    for (let i = 0; i < n; i++) {
      const a0 = gh * nn + i * n;
      const di = base + i * hd;
      // dA_ij = dy_i . v_j; dv_j += a_ij dy_i; dS = a (dA - sum_j a dA)
      let dot = 0;
      for (let j = 0; j < n; j++) {
        const vj = base + j * hd;
        const a = av[a0 + j];
        let da = 0;
        for (let c = 0; c < hd; c++) {
          da += d[di + c] * vv[vj + c];
          dv[vj + c] += a * d[di + c];
        }
        ds[j] = da;
        dot += a * da;
      }
      const qi = base + i * hd;
      for (let j = 0; j < n; j++) {
        const s = av[a0 + j] * (ds[j] - dot);
        dt[idx[i * n + j] * heads + h] += s;
        const kj = base + j * hd;
        const ss = s * scale;
        for (let c = 0; c < hd; c++) {
          dq[qi + c] += ss * kv[kj + c];
          dk[kj + c] += ss * qv[qi + c];
        }
      }
    }
  }
  return [
    { values: dq, shape: q.shape },
    { values: dk, shape: q.shape },
    { values: dv, shape: q.shape },
    { values: Float32Array.from(dt), shape: [rows, heads] },
  ];
};

const gatherRows: HostFn = ({ x, index }) => {
  const [B, R, C] = x.shape;
  const idx = index.values;
  const out = new Float32Array(B * idx.length * C);
  const xv = x.values;
  for (let b = 0; b < B; b++) {
    const src = b * R * C;
    const dst = b * idx.length * C;
    for (let r = 0; r < idx.length; r++) {
      const k = idx[r];
      if (k >= 0) out.set(xv.subarray(src + k * C, src + (k + 1) * C), dst + r * C);
    }
  }
  return [{ values: out, shape: [B, idx.length, C] }];
};

export function attentionHostKernels(): tf.KernelConfig[] {
  const table: [string, HostFn][] = [
    [WINDOW_ATTENTION, windowAttention],
    [WINDOW_ATTENTION_GRAD, windowAttentionGrad],
    [GATHER_ROWS, gatherRows],
  ];
  return table.flatMap(([name, fn]) => hostKernelConfigs(name, fn));
}
