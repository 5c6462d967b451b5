// Element-wise passes over host (JavaScript-memory) tensors used by the fused custom ops in
// model/fused.ts and loss/fused.ts: bias + InstanceNorm + LeakyReLU forward/backward and the
// MultiTalent loss statistics/gradient. Each runs on the native addon (native/conv3d/normact.cpp,
// vectorised, all pool threads) when it is built, else in plain JavaScript with the same results
// to float tolerance. Layout: channels-last [B, N, C], N = voxels per sample.
import { loadNativeConv3d, type NativeConv3dAddon } from './native_addon.js';

export interface NormActForwardResult {
  y: Float32Array;
  /** Per (sample, channel) mean of x [B*C] (the bias added before the norm cancels out). */
  mean: Float32Array;
  /** Per (sample, channel) 1 / sqrt(var + eps) [B*C]. */
  rstd: Float32Array;
}

export interface NormActGrads {
  dx: Float32Array;
  dbias: Float32Array;
  dscale: Float32Array;
  doffset: Float32Array;
}

export interface Dims {
  B: number;
  N: number;
  C: number;
}

type Mode = 'auto' | 'js';
let mode: Mode = 'auto';
let cached: { addon?: NativeConv3dAddon } | undefined;

/** 'js' forces the JavaScript implementations (tests compare both); 'auto' uses the addon when built. */
export function setHostKernels(m: Mode): void {
  mode = m;
}

/** The loaded addon, unless the JavaScript implementations are forced ('js'). */
export function hostAddon(): NativeConv3dAddon | undefined {
  if (mode === 'js') return undefined;
  cached ??= { addon: loadNativeConv3d().addon };
  return cached.addon;
}

function addon(): NativeConv3dAddon | undefined {
  const a = hostAddon();
  return a && a.normActForward && a.normActBackward && a.lossStats && a.lossGrad ? a : undefined;
}

/** True when the native element-wise kernels are in use. */
export function nativeHostKernels(): boolean {
  return addon() !== undefined;
}

/**
 * A Float32Array of n elements whose contents are unspecified (callers overwrite every element):
 * from the addon's pool of already-mapped buffers when available, which avoids page-faulting fresh
 * multi-megabyte allocations on every op.
 */
export function hostAlloc(n: number): Float32Array {
  const a = hostAddon();
  return a && n > 0 ? a.alloc(n) : new Float32Array(n);
}

export function normActForward(
  x: Float32Array, scale: Float32Array, offset: Float32Array, d: Dims, eps: number, slope: number,
): NormActForwardResult {
  const { B, N, C } = d;
  const y = hostAlloc(x.length);
  const mean = new Float32Array(B * C);
  const rstd = new Float32Array(B * C);
  const a = addon();
  if (a?.normActForward) {
    a.normActForward(x, scale, offset, B, N, C, eps, slope, y, mean, rstd);
    return { y, mean, rstd };
  }
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  const A = new Float32Array(C);
  const O = new Float32Array(C);
  for (let b = 0; b < B; b++) {
    const base = b * N * C;
    sum.fill(0);
    for (let i = 0; i < N; i++) {
      const o = base + i * C;
      for (let c = 0; c < C; c++) sum[c] += x[o + c];
    }
    for (let c = 0; c < C; c++) sum[c] /= N;
    sq.fill(0);
    for (let i = 0; i < N; i++) {
      const o = base + i * C;
      for (let c = 0; c < C; c++) {
        const v = x[o + c] - sum[c];
        sq[c] += v * v;
      }
    }
    for (let c = 0; c < C; c++) {
      const r = 1 / Math.sqrt(sq[c] / N + eps);
      mean[b * C + c] = sum[c];
      rstd[b * C + c] = r;
      A[c] = r * scale[c];
      O[c] = offset[c] - sum[c] * r * scale[c];
    }
    for (let i = 0; i < N; i++) {
      const o = base + i * C;
      for (let c = 0; c < C; c++) {
        const z = x[o + c] * A[c] + O[c];
        y[o + c] = z > 0 ? z : slope * z;
      }
    }
  }
  return { y, mean, rstd };
}

export function normActBackward(
  x: Float32Array, fwd: NormActForwardResult, dy: Float32Array, scale: Float32Array, d: Dims, slope: number,
): NormActGrads {
  const { B, N, C } = d;
  const { y, mean, rstd } = fwd;
  const dx = hostAlloc(x.length);
  const dbias = new Float32Array(C);
  const dscale = new Float32Array(C);
  const doffset = new Float32Array(C);
  const a = addon();
  if (a?.normActBackward) {
    a.normActBackward(x, y, dy, scale, mean, rstd, B, N, C, slope, dx, dbias, dscale, doffset);
    return { dx, dbias, dscale, doffset };
  }
  const sd = new Float64Array(C);
  const sdx = new Float64Array(C);
  const tb = new Float64Array(C);
  const ts = new Float64Array(C);
  const to = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    const base = b * N * C;
    const mu = mean.subarray(b * C, (b + 1) * C);
    const r = rstd.subarray(b * C, (b + 1) * C);
    sd.fill(0);
    sdx.fill(0);
    for (let i = 0; i < N; i++) {
      const o = base + i * C;
      for (let c = 0; c < C; c++) {
        const dz = y[o + c] > 0 ? dy[o + c] : slope * dy[o + c];
        sd[c] += dz;
        sdx[c] += dz * (x[o + c] - mu[c]) * r[c];
      }
    }
    for (let c = 0; c < C; c++) {
      to[c] += sd[c];
      ts[c] += sdx[c];
      sd[c] = (scale[c] * sd[c]) / N;
      sdx[c] = (scale[c] * sdx[c]) / N;
    }
    for (let i = 0; i < N; i++) {
      const o = base + i * C;
      for (let c = 0; c < C; c++) {
        const dz = y[o + c] > 0 ? dy[o + c] : slope * dy[o + c];
        const h = (x[o + c] - mu[c]) * r[c];
        const v = r[c] * (dz * scale[c] - sd[c] - h * sdx[c]);
        dx[o + c] = v;
        tb[c] += v;
      }
    }
  }
  for (let c = 0; c < C; c++) {
    dbias[c] = tb[c];
    dscale[c] = ts[c];
    doffset[c] = to[c];
  }
  return { dx, dbias, dscale, doffset };
}

/**
 * Per (sample, class) sums over voxels of logits z and targets g, as [4][B*C] (float64):
 * sum BCE-with-logits max(z,0) - z g + log(1 + exp(-|z|)), sum sigmoid(z) g, sum sigmoid(z), sum g.
 */
export function lossStats(z: Float32Array, g: Float32Array, d: Dims): Float64Array {
  const { B, N, C } = d;
  const BC = B * C;
  const stats = new Float64Array(4 * BC);
  const a = addon();
  if (a?.lossStats) {
    a.lossStats(z, g, B, N, C, stats);
    return stats;
  }
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      const o = (b * N + i) * C;
      for (let c = 0; c < C; c++) {
        const zv = z[o + c];
        const gv = g[o + c];
        const e = Math.exp(-Math.abs(zv));
        const p = zv >= 0 ? 1 / (1 + e) : e / (1 + e);
        const k = b * C + c;
        stats[k] += Math.max(zv, 0) - zv * gv + Math.log1p(e);
        stats[BC + k] += p * gv;
        stats[2 * BC + k] += p;
        stats[3 * BC + k] += gv;
      }
    }
  }
  return stats;
}

/**
 * d(loss)/dz from per (sample, class) coefficients coef [3][B*C] = {u, v, w}:
 * dz = u (p - g) - p (1 - p) (v g - w), p = sigmoid(z).
 */
export function lossGrad(z: Float32Array, g: Float32Array, coef: Float32Array, d: Dims): Float32Array {
  const { B, N, C } = d;
  const BC = B * C;
  const dz = hostAlloc(z.length);
  const a = addon();
  if (a?.lossGrad) {
    a.lossGrad(z, g, coef, B, N, C, dz);
    return dz;
  }
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      const o = (b * N + i) * C;
      for (let c = 0; c < C; c++) {
        const k = b * C + c;
        const p = 1 / (1 + Math.exp(-z[o + c]));
        const gv = g[o + c];
        // + 0 turns -0 into +0 (masked entries get exactly +0, as the tfjs composition gives).
        dz[o + c] = coef[k] * (p - gv) - p * (1 - p) * (coef[BC + k] * gv - coef[2 * BC + k]) + 0;
      }
    }
  }
  return dz;
}
