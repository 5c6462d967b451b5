// Bias + InstanceNorm + LeakyReLU on the GPU (WGSL): the webgpu kernels of the fused op
// `biasNormAct` (../model/fused.ts; registered in ./fused_kernels.ts): same value, same gradients
// as the host kernels (see normActForward / normActBackward in ../kernels/host_ops.ts for the math).
//
// Forward, for x viewed as [B, N, C] (N voxels, channels last):
//   1. partial Welford statistics per (b, 32-channel tile, chunk of rows)      (reads x once)
//   2. combine: mean and rstd = 1 / sqrt(M2 / N + eps) per (b, c)        -> stats [B, 2, C]
//   3. element-wise y = LeakyReLU((x - mean) * (rstd * scale) + offset)        (reads x, writes y)
// Backward, with z recomputed from x exactly as in 3 (so y need not be read) and
// dz = dy where z > 0 else slope * dy, h = (x - mean) * rstd:
//   1./2. per (b, c) sums  sd = sum dz,  sdh = sum dz h,  sxm = sum (x - mean)  -> [B, 3, C]
//   3. dscale = sum_b sdh, doffset = sum_b sd, and dbias = sum of dx in closed form:
//      sum_i dx = -rstd * scale * sdh / N * sum_i h = -rstd^2 * scale * sdh * sxm / N
//      (the other two terms of dx cancel exactly), summed over b
//   4. element-wise dx = rstd * (scale dz - scale sd / N - h scale sdh / N)      (reads x, dy)
// The bias cancels out of the value (it shifts x and its mean alike); it is an input for the tape.
import * as tf from '@tensorflow/tfjs';
import { X_ELEM_WGSL, combineChunks, chunkPlan, partialReduce, reduceSums, type Dims, type PartialSpec } from './fused_reduce.js';
import { f32, i32, runElementwise, runKernel, sampleChannelWgsl, vectorWidth } from './fused_program.js';

/** The pre-activation, shared verbatim by the forward and backward shaders (same rounding). */
const NORM_Z_WGSL = `
fn mt_normZ(xv : T, mu : T, a : T, off : T) -> T {
  return (xv - mu) * a + off;
}
`;

function normStats(x: tf.Tensor, d: Dims, eps: number): tf.Tensor {
  const plan = chunkPlan(d.N);
  const spec: PartialSpec = { name: 'normstats', inputs: ['x'], mode: 'welford', q: 2, code: X_ELEM_WGSL };
  const partial = partialReduce(spec, [x], d, plan);
  const stats = combineChunks(partial, 'welford', 2, d, plan, eps);
  partial.dispose();
  return stats;
}

/**
 * Runs an element-wise norm program over the [B, N, C] elements of `inputs[0]` (x) into its shape:
 * `body(v)` follows the lets of sampleChannelWgsl, sIdx / cIdx (this vector's stats / channel
 * vector) and mu, with NORM_Z_WGSL and the uniforms nN, nC, slope.
 */
function runNormElementwise(
  key: string, names: string[], inputs: tf.Tensor[], d: Dims, slope: number, body: (v: 1 | 4) => string,
): tf.Tensor {
  const v = vectorWidth(d.C);
  return runElementwise(
    {
      key,
      inputs: names,
      v,
      outputSize: d.B * d.N * d.C,
      uniforms: 'nN : i32, nC : i32, slope : f32,',
      decls: [NORM_Z_WGSL],
      body: `${sampleChannelWgsl(v)}
    let sIdx = (b * 2 * uniforms.nC + c) / ${v};
    let cIdx = c / ${v};
    let mu = stats[sIdx];${body(v)}`,
    },
    inputs,
    [i32(d.N), i32(d.C), f32(slope)],
    inputs[0].shape,
  );
}

function normApply(x: tf.Tensor, stats: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, d: Dims, slope: number): tf.Tensor {
  return runNormElementwise('normact_fwd', ['x', 'stats', 'scale', 'offset'], [x, stats, scale, offset], d, slope, (v) => `
    let a = stats[sIdx + uniforms.nC / ${v}] * scale[cIdx];
    let z = mt_normZ(x[index], mu, a, offset[cIdx]);
    result[index] = select(uniforms.slope * z, z, z > T(0.0));`);
}

function normBackwardSums(x: tf.Tensor, dy: tf.Tensor, stats: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, d: Dims, slope: number): tf.Tensor {
  const spec: PartialSpec = {
    name: 'normact_bwd',
    inputs: ['x', 'dy', 'stats', 'scale', 'offset'],
    mode: 'sum',
    q: 3,
    uniforms: 'slope : f32,',
    code: `
alias T = f32;
${NORM_Z_WGSL}
struct TP { mu : f32, rstd : f32, a : f32, off : f32, };
fn mt_params(b : i32, c : i32) -> TP {
  let s = b * 2 * uniforms.nC + c;
  let rstd = stats[s + uniforms.nC];
  return TP(stats[s], rstd, rstd * scale[c], offset[c]);
}
fn mt_elem(o : i32, p : TP) -> vec4<f32> {
  let xv = x[o];
  let g = dy[o];
  let z = mt_normZ(xv, p.mu, p.a, p.off);
  let dz = select(uniforms.slope * g, g, z > 0.0);
  let xm = xv - p.mu;
  return vec4<f32>(dz, dz * (xm * p.rstd), xm, 0.0);
}
`,
  };
  return reduceSums(spec, [x, dy, stats, scale, offset], d, [f32(slope)]);
}

/** One of dbias (which = 0), dscale (1), doffset (2), each [C], from the per-(b, c) sums. */
function normParamGrad(which: 0 | 1 | 2, sums: tf.Tensor, stats: tf.Tensor, scale: tf.Tensor, d: Dims): tf.Tensor {
  const code = `
fn main(index : i32) {
  let c = index;
  if (c < uniforms.size) {
    var acc = 0.0;
    for (var b = 0; b < uniforms.nB; b = b + 1) {
      let sd = sums[(b * 3) * uniforms.nC + c];
      let sdh = sums[(b * 3 + 1) * uniforms.nC + c];
      let sxm = sums[(b * 3 + 2) * uniforms.nC + c];
      let rstd = stats[(b * 2 + 1) * uniforms.nC + c];
      if (uniforms.which == 0) {
        acc = acc - rstd * rstd * scale[c] * sdh * sxm / f32(uniforms.nN);
      } else if (uniforms.which == 1) {
        acc = acc + sdh;
      } else {
        acc = acc + sd;
      }
    }
    result[c] = acc;
  }
}
`;
  return runKernel(
    {
      key: 'normact_params',
      inputs: ['sums', 'stats', 'scale'],
      outputSize: d.C,
      workgroupSize: [64, 1, 1],
      uniforms: 'nB : i32, nN : i32, nC : i32, which : i32,',
      code,
    },
    [sums, stats, scale],
    [i32(d.B), i32(d.N), i32(d.C), i32(which)],
    [d.C],
  );
}

function normInputGrad(
  x: tf.Tensor, dy: tf.Tensor, stats: tf.Tensor, sums: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, d: Dims, slope: number,
): tf.Tensor {
  const names = ['x', 'dy', 'stats', 'sums', 'scale', 'offset'];
  return runNormElementwise('normact_dx', names, [x, dy, stats, sums, scale, offset], d, slope, (v) => `
    let rstd = stats[sIdx + uniforms.nC / ${v}];
    let s = scale[cIdx];
    let xv = x[index];
    let g = dy[index];
    let z = mt_normZ(xv, mu, rstd * s, offset[cIdx]);
    let dz = select(uniforms.slope * g, g, z > T(0.0));
    let q = (b * 3 * uniforms.nC + c) / ${v};
    let n = f32(uniforms.nN);
    let sd = s * sums[q] / n;
    let sdh = s * sums[q + uniforms.nC / ${v}] / n;
    let h = (xv - mu) * rstd;
    result[index] = rstd * (dz * s - sd - h * sdh);`);
}

/**
 * The forward kernel of the fused bias + InstanceNorm + LeakyReLU op (../model/fused.ts
 * `biasNormAct`): y = LeakyReLU(InstanceNorm(x) * scale + offset) and the per-(b, c) stats
 * [B, 2, C] (mean, rstd) the gradient reads. The bias cancels out of the value.
 */
export function gpuBiasNormActForward(x: tf.Tensor5D, scale: tf.Tensor, offset: tf.Tensor, eps: number, slope: number): [tf.Tensor, tf.Tensor] {
  const [B, D, H, W, C] = x.shape;
  const d: Dims = { B, N: D * H * W, C };
  const stats = normStats(x, d, eps);
  const y = normApply(x, stats, scale, offset, d, slope);
  return [y, tf.reshape(stats, [B, 2, C])];
}

/** Its gradient kernel: [dx, dbias, dscale, doffset] from dy, x, the stats, scale and offset. */
export function gpuBiasNormActBackward(dy: tf.Tensor, x: tf.Tensor5D, stats: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, slope: number): tf.Tensor[] {
  const [B, D, H, W, C] = x.shape;
  const d: Dims = { B, N: D * H * W, C };
  const sums = normBackwardSums(x, dy, stats, scale, offset, d, slope);
  const grads = [
    normInputGrad(x, dy, stats, sums, scale, offset, d, slope),
    normParamGrad(0, sums, stats, scale, d),
    normParamGrad(1, sums, stats, scale, d),
    normParamGrad(2, sums, stats, scale, d),
  ];
  sums.dispose();
  return grads;
}
