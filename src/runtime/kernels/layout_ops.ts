// Layout and bias passes of the fused U-Net ops over host (JavaScript-memory) arrays, channels-last:
// channel concatenation and split, per-channel bias add and its gradient (column sums), depth-to-space
// + bias (a kernel = stride transposed convolution) and its gradient, LeakyReLU(a + b) and its
// gradient. Native (native/conv3d/layout.cpp: all pool threads, column sums in fixed blocks) when the
// addon is built, else the JavaScript below. Copies and bias adds agree exactly; the column sums (both
// in double, in different orders) and LeakyReLU(a + b) (float32 there, double here before rounding)
// agree to float rounding.
import { hostAddon, hostAlloc } from './host_ops.js';

/** [n, Ca] | [n, Cb] -> [n, Ca + Cb]. */
export function concatChannelsHost(a: Float32Array, b: Float32Array, n: number, Ca: number, Cb: number): Float32Array {
  const out = hostAlloc(n * (Ca + Cb));
  const native = hostAddon();
  if (native?.concatChannels && n > 0) {
    native.concatChannels(a, b, n, Ca, Cb, out);
    return out;
  }
  // Plain index loops: typed-array subarray/set per voxel costs more than the copy itself.
  for (let i = 0, o = 0, pa = 0, pb = 0; i < n; i++) {
    for (let c = 0; c < Ca; c++) out[o++] = a[pa++];
    for (let c = 0; c < Cb; c++) out[o++] = b[pb++];
  }
  return out;
}

/** [n, Ca + Cb] -> [n, Ca], [n, Cb]. */
export function splitChannelsHost(g: Float32Array, n: number, Ca: number, Cb: number): [Float32Array, Float32Array] {
  const ga = hostAlloc(n * Ca);
  const gb = hostAlloc(n * Cb);
  const native = hostAddon();
  if (native?.splitChannels && n > 0) {
    native.splitChannels(g, n, Ca, Cb, ga, gb);
    return [ga, gb];
  }
  for (let i = 0, o = 0, pa = 0, pb = 0; i < n; i++) {
    for (let c = 0; c < Ca; c++) ga[pa++] = g[o++];
    for (let c = 0; c < Cb; c++) gb[pb++] = g[o++];
  }
  return [ga, gb];
}

/** x [n, C] + bias [C]. */
export function addBiasHost(x: Float32Array, bias: Float32Array, n: number, C: number): Float32Array {
  const out = hostAlloc(n * C);
  const native = hostAddon();
  if (native?.addBias && n > 0) {
    native.addBias(x, bias, n, C, out);
    return out;
  }
  for (let i = 0; i < n; i++) {
    const o = i * C;
    for (let c = 0; c < C; c++) out[o + c] = x[o + c] + bias[c];
  }
  return out;
}

/** Per-channel sums of x [n, C] (float64 accumulation). */
export function columnSumsHost(x: Float32Array, n: number, C: number): Float32Array {
  const out = new Float32Array(C);
  const native = hostAddon();
  if (native?.columnSums && n > 0) {
    native.columnSums(x, n, C, out);
    return out;
  }
  const db = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const o = i * C;
    for (let c = 0; c < C; c++) db[c] += x[o + c];
  }
  out.set(db);
  return out;
}

export interface DepthToSpaceDims {
  B: number;
  D: number;
  H: number;
  W: number;
  /** Block (= stride) per axis. */
  sz: number;
  sy: number;
  sx: number;
  /** Output channels. */
  C: number;
}

/**
 * Visits every run of C channels: `p` its offset in [B, D, H, W, sz, sy, sx, C] order, `q` its
 * offset in the output [B, D*sz, H*sy, W*sx, C].
 */
function forEachRun(d: DepthToSpaceDims, fn: (p: number, q: number) => void): void {
  const { B, D, H, W, sz, sy, sx, C } = d;
  const OH = H * sy;
  const OW = W * sx;
  let p = 0;
  for (let b = 0; b < B; b++)
    for (let z = 0; z < D; z++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++)
          for (let kz = 0; kz < sz; kz++)
            for (let ky = 0; ky < sy; ky++) {
              let q = (((b * D * sz + z * sz + kz) * OH + h * sy + ky) * OW + w * sx) * C;
              for (let kx = 0; kx < sx; kx++, p += C, q += C) fn(p, q);
            }
}

/** x [B, D, H, W, sz*sy*sx*C] (laid out [..., sz, sy, sx, C]) -> [B, D*sz, H*sy, W*sx, C] + bias. */
export function depthToSpaceBiasHost(x: Float32Array, bias: Float32Array, d: DepthToSpaceDims): Float32Array {
  const out = hostAlloc(x.length);
  const native = hostAddon();
  if (native?.depthToSpaceBias && x.length > 0) {
    native.depthToSpaceBias(x, bias, d.B, d.D, d.H, d.W, d.sz, d.sy, d.sx, d.C, out);
    return out;
  }
  const C = d.C;
  forEachRun(d, (p, q) => {
    for (let c = 0; c < C; c++) out[q + c] = x[p + c] + bias[c];
  });
  return out;
}

/** The gradient of depthToSpaceBiasHost: dy gathered back to x's layout, and the bias gradient. */
export function depthToSpaceBiasGradHost(dy: Float32Array, d: DepthToSpaceDims): { dx: Float32Array; dbias: Float32Array } {
  const dx = hostAlloc(dy.length);
  const native = hostAddon();
  if (native?.depthToSpaceBiasGrad && dy.length > 0) {
    const dbias = new Float32Array(d.C);
    native.depthToSpaceBiasGrad(dy, d.B, d.D, d.H, d.W, d.sz, d.sy, d.sx, d.C, dx, dbias);
    return { dx, dbias };
  }
  const C = d.C;
  forEachRun(d, (p, q) => {
    for (let c = 0; c < C; c++) dx[p + c] = dy[q + c];
  });
  return { dx, dbias: columnSumsHost(dy, dy.length / C, C) };
}

/** a + b of two arrays of one length. */
export function addHost(a: Float32Array, b: Float32Array): Float32Array {
  const out = hostAlloc(a.length);
  const native = hostAddon();
  if (native?.add && a.length > 0) {
    native.add(a, b, out);
    return out;
  }
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** LeakyReLU(a + b). */
export function residualActHost(a: Float32Array, b: Float32Array, slope: number): Float32Array {
  const out = hostAlloc(a.length);
  const native = hostAddon();
  if (native?.residualAct && a.length > 0) {
    native.residualAct(a, b, slope, out);
    return out;
  }
  for (let i = 0; i < a.length; i++) {
    const z = a[i] + b[i];
    out[i] = z > 0 ? z : slope * z;
  }
  return out;
}

/** The gradient of residualActHost from its output y: dy * (y > 0 ? 1 : slope). */
export function residualActGradHost(y: Float32Array, g: Float32Array, slope: number): Float32Array {
  const dz = hostAlloc(y.length);
  const native = hostAddon();
  if (native?.residualActGrad && y.length > 0) {
    native.residualActGrad(y, g, slope, dz);
    return dz;
  }
  for (let i = 0; i < y.length; i++) dz[i] = y[i] > 0 ? g[i] : slope * g[i];
  return dz;
}
