import * as tf from '@tensorflow/tfjs';

/**
 * Fused element-wise parts of the U-Net, computed in JavaScript on the tensors' values with
 * hand-written gradients (tf.customGrad).
 *
 * Why: tfjs's cpu backend runs every broadcasting binary op, reduction over non-innermost axes,
 * transpose and channel split through a generic per-element index computation, which made the
 * bias + InstanceNorm + LeakyReLU chain and the skip concatenation cost more than the convolutions
 * themselves. These fused versions are single linear passes. They are only used on backends whose
 * tensors live in JavaScript memory (cpu, wasm: reading values back is a copy at most); other
 * backends (native TensorFlow) use the equivalent composition of tfjs ops in ./layers.ts.
 * Convolutions stay tf.conv3d, so backend kernels for it plug in unchanged.
 */

let fusedMode: 'auto' | 'on' | 'off' = 'auto';

/** Overrides the automatic choice (tests compare both implementations; 'auto' restores it). */
export function setFusedOps(mode: 'auto' | 'on' | 'off'): void {
  fusedMode = mode;
}

/** True when the fused JavaScript implementations are the faster choice on the active backend. */
export function useFusedOps(): boolean {
  if (fusedMode !== 'auto') return fusedMode === 'on';
  const b = tf.getBackend();
  return b === 'cpu' || b === 'wasm';
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

type OpResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor[] };

/** tf.customGrad with a fixed number of tensor inputs (tfjs types the inputs loosely). */
function customOp(body: (inputs: tf.Tensor[]) => OpResult): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) =>
    body(args.filter((a): a is tf.Tensor => a instanceof tf.Tensor)),
  );
}

/**
 * y = LeakyReLU(InstanceNorm(x + bias) * scale + offset), per sample and channel over the spatial
 * axes of channels-last `x` [B, z, y, x, C]; biased variance, `eps` inside the square root.
 */
export function fusedBiasNormAct(
  x: tf.Tensor5D,
  bias: tf.Tensor1D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  eps: number,
  slope: number,
): tf.Tensor5D {
  const op = customOp(([xi, bi, si, oi]) => {
    const [B, D, H, W, C] = xi.shape;
    const n = D * H * W;
    const xv = values(xi);
    const bv = values(bi);
    const sv = values(si);
    const ov = values(oi);
    const xhat = new Float32Array(xv.length);
    const out = new Float32Array(xv.length);
    const rstd = new Float64Array(B * C);
    const mean = new Float64Array(C);
    const sq = new Float64Array(C);
    for (let b = 0; b < B; b++) {
      const base = b * n * C;
      mean.fill(0);
      for (let i = 0; i < n; i++) {
        const o = base + i * C;
        for (let c = 0; c < C; c++) mean[c] += xv[o + c];
      }
      for (let c = 0; c < C; c++) mean[c] = mean[c] / n + bv[c];
      sq.fill(0);
      for (let i = 0; i < n; i++) {
        const o = base + i * C;
        for (let c = 0; c < C; c++) {
          const d = xv[o + c] + bv[c] - mean[c];
          sq[c] += d * d;
        }
      }
      for (let c = 0; c < C; c++) rstd[b * C + c] = 1 / Math.sqrt(sq[c] / n + eps);
      for (let i = 0; i < n; i++) {
        const o = base + i * C;
        for (let c = 0; c < C; c++) {
          const h = (xv[o + c] + bv[c] - mean[c]) * rstd[b * C + c];
          xhat[o + c] = h;
          const z = h * sv[c] + ov[c];
          out[o + c] = z > 0 ? z : slope * z;
        }
      }
    }
    const value = tf.tensor(out, xi.shape, 'float32');
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = values(dy);
      const dx = new Float32Array(g.length);
      const dscale = new Float64Array(C);
      const doffset = new Float64Array(C);
      const dbias = new Float64Array(C);
      const sumD = new Float64Array(C);
      const sumDX = new Float64Array(C);
      for (let b = 0; b < B; b++) {
        const base = b * n * C;
        sumD.fill(0);
        sumDX.fill(0);
        for (let i = 0; i < n; i++) {
          const o = base + i * C;
          for (let c = 0; c < C; c++) {
            const dz = out[o + c] > 0 ? g[o + c] : slope * g[o + c];
            const h = xhat[o + c];
            dscale[c] += dz * h;
            doffset[c] += dz;
            const dh = dz * sv[c];
            dx[o + c] = dh; // stash dxhat
            sumD[c] += dh;
            sumDX[c] += dh * h;
          }
        }
        for (let i = 0; i < n; i++) {
          const o = base + i * C;
          for (let c = 0; c < C; c++) {
            const r = rstd[b * C + c];
            const v = r * (dx[o + c] - sumD[c] / n - xhat[o + c] * (sumDX[c] / n));
            dx[o + c] = v;
            dbias[c] += v;
          }
        }
      }
      return [
        tf.tensor(dx, xi.shape, 'float32'),
        tf.tensor(Float32Array.from(dbias), [C], 'float32'),
        tf.tensor(Float32Array.from(dscale), [C], 'float32'),
        tf.tensor(Float32Array.from(doffset), [C], 'float32'),
      ];
    };
    return { value, gradFunc };
  });
  return op(x, bias, scale, offset) as tf.Tensor5D;
}

/** Concatenation of two channels-last tensors along the last axis, with a single-pass split as gradient. */
export function fusedConcatChannels(a: tf.Tensor5D, b: tf.Tensor5D): tf.Tensor5D {
  const op = customOp(([ai, bi]) => {
    const Ca = ai.shape[4] as number;
    const Cb = bi.shape[4] as number;
    if (ai.shape.slice(0, 4).join(',') !== bi.shape.slice(0, 4).join(',')) {
      throw new Error(`concat: shapes [${ai.shape.join(', ')}] and [${bi.shape.join(', ')}] differ outside the channel axis`);
    }
    const n = ai.size / Ca;
    const C = Ca + Cb;
    const av = values(ai);
    const bv = values(bi);
    const out = new Float32Array(n * C);
    for (let i = 0; i < n; i++) {
      out.set(av.subarray(i * Ca, (i + 1) * Ca), i * C);
      out.set(bv.subarray(i * Cb, (i + 1) * Cb), i * C + Ca);
    }
    const shape = [...ai.shape.slice(0, 4), C];
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = values(dy);
      const ga = new Float32Array(n * Ca);
      const gb = new Float32Array(n * Cb);
      for (let i = 0; i < n; i++) {
        ga.set(g.subarray(i * C, i * C + Ca), i * Ca);
        gb.set(g.subarray(i * C + Ca, (i + 1) * C), i * Cb);
      }
      return [tf.tensor(ga, ai.shape, 'float32'), tf.tensor(gb, bi.shape, 'float32')];
    };
    return { value: tf.tensor(out, shape, 'float32'), gradFunc };
  });
  return op(a, b) as tf.Tensor5D;
}

/** x [N, C] + bias [C] (row-broadcast add) with the column sum as the bias gradient. */
export function fusedAddBias(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const op = customOp(([xi, bi]) => {
    const [N, C] = xi.shape;
    const xv = values(xi);
    const bv = values(bi);
    const out = new Float32Array(xv.length);
    for (let i = 0; i < N; i++) {
      const o = i * C;
      for (let c = 0; c < C; c++) out[o + c] = xv[o + c] + bv[c];
    }
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = values(dy);
      const db = new Float64Array(C);
      for (let i = 0; i < N; i++) {
        const o = i * C;
        for (let c = 0; c < C; c++) db[c] += g[o + c];
      }
      return [tf.clone(dy), tf.tensor(Float32Array.from(db), [C], 'float32')];
    };
    return { value: tf.tensor(out, xi.shape, 'float32'), gradFunc };
  });
  return op(x, bias) as tf.Tensor2D;
}

/**
 * Depth-to-space for a kernel=stride transposed conv: `x` [B, D, H, W, sz*sy*sx*C] laid out as
 * [..., sz, sy, sx, C] becomes [B, D*sz, H*sy, W*sx, C]. Pure data movement; gradient is the inverse.
 */
export function fusedDepthToSpace(x: tf.Tensor5D, stride: [number, number, number]): tf.Tensor5D {
  const [sz, sy, sx] = stride;
  const op = customOp(([xi]) => {
    const [B, D, H, W, K] = xi.shape;
    const C = K / (sz * sy * sx);
    const outShape = [B, D * sz, H * sy, W * sx, C];
    const OD = D * sz;
    const OH = H * sy;
    const OW = W * sx;
    // For every input element block (b,d,h,w,kz,ky,kx) the C channels move contiguously.
    const move = (src: Float32Array, dst: Float32Array, forward: boolean): void => {
      let p = 0;
      for (let b = 0; b < B; b++)
        for (let d = 0; d < D; d++)
          for (let h = 0; h < H; h++)
            for (let w = 0; w < W; w++)
              for (let kz = 0; kz < sz; kz++)
                for (let ky = 0; ky < sy; ky++)
                  for (let kx = 0; kx < sx; kx++) {
                    const q = ((((b * OD + d * sz + kz) * OH + h * sy + ky) * OW + w * sx + kx) * C);
                    if (forward) dst.set(src.subarray(p, p + C), q);
                    else dst.set(src.subarray(q, q + C), p);
                    p += C;
                  }
    };
    const out = new Float32Array(xi.size);
    move(values(xi), out, true);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const g = new Float32Array(xi.size);
      move(values(dy), g, false);
      return [tf.tensor(g, xi.shape, 'float32')];
    };
    return { value: tf.tensor(out, outShape, 'float32'), gradFunc };
  });
  return op(x) as tf.Tensor5D;
}
