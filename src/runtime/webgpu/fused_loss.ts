// The sigmoid Dice + BCE losses on the GPU (WGSL): the MultiTalent loss and nnU-Net's region loss,
// the webgpu kernels of the fused op of ../loss/fused.ts (registered in ./fused_kernels.ts): same
// value, same gradient w.r.t. the logits as its host kernels (the math: ../loss/sigmoid-dice-bce.ts).
//
// Forward, logits z and targets g viewed as [B, N, C]:
//   1./2. per (b, c) sums over voxels of BCE-with-logits, p g, p, g (p = sigmoid z)  -> [B, 4, C]
//         (two-stage deterministic reduction, ./fused_reduce.ts)
//   3. one workgroup: per class BCE_c, I_c, D_c (or the per-case Dice terms), the clamp, the
//      annotated test, the mean weights, and the sum over classes in a fixed tree -> scalar
// Backward:
//   1. per (b, c) coefficients u, v, w of lossGrad (host_ops.ts), scaled by the upstream dy read
//      on the GPU (no host read-back)                                              -> [3, B, C]
//   2. element-wise dz = u (p - g) - p (1 - p) (v g - w)
// Float32 throughout (the cpu version sums in float64): the per-(b, c) sums are tree sums, whose
// rounding error grows with log(N) rather than N.
import * as tf from '@tensorflow/tfjs';
import { type SigmoidDiceBceSpec } from '../loss/sigmoid-dice-bce.js';
import { NO_PARAMS_WGSL, reduceSums, type Dims, type PartialSpec } from './fused_reduce.js';
import { f32, i32, runElementwise, runKernel, sampleChannelWgsl, toFloat32, vectorWidth, type Uniform } from './fused_program.js';

/** Numerically stable sigmoid and log(1 + e) for e in [0, 1] (works on f32 and vec4). */
const SIGMOID_WGSL = `
fn mt_sigmoid(z : T) -> T {
  let e = exp(-abs(z));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), z >= T(0.0));
}
`;

const LOSS_STATS: PartialSpec = {
  name: 'multitalent_stats',
  inputs: ['z', 'g'],
  mode: 'sum',
  q: 4,
  code: `${NO_PARAMS_WGSL}
fn mt_log1p(e : f32) -> f32 {
  // log(1 + e) accurate for small e (Goldberg): log(u) * e / (u - 1) with u = 1 + e rounded.
  let u = 1.0 + e;
  return select(log(u) * (e / (u - 1.0)), e, u == 1.0);
}
fn mt_elem(o : i32, p : TP) -> vec4<f32> {
  let zv = z[o];
  let gv = g[o];
  let e = exp(-abs(zv));
  let pv = select(e / (1.0 + e), 1.0 / (1.0 + e), zv >= 0.0);
  let bce = max(zv, 0.0) - zv * gv + mt_log1p(e);
  return vec4<f32>(bce, pv * gv, pv, gv);
}
`,
};

/**
 * Shared helpers of the value and coefficient programs (see ../loss/sigmoid-dice-bce.ts for the math):
 * per class (sum_b m, sum_b m S_bce / N, I_c = sum_b m S_pg, D_c = sum_b m (S_p + S_g)); per (b, c)
 * the case's I and D; the counts (M, G) of annotated pairs and of Dice groups; one Dice term.
 */
const CLASS_WGSL = `
fn mt_class(c : i32) -> vec4<f32> {
  var msum = 0.0;
  var bce = 0.0;
  var inter = 0.0;
  var den = 0.0;
  for (var b = 0; b < uniforms.nB; b = b + 1) {
    let m = mask[b * uniforms.nC + c];
    let k = (b * 4) * uniforms.nC + c;
    msum = msum + m;
    bce = bce + m * sums[k] / f32(uniforms.nN);
    inter = inter + m * sums[k + uniforms.nC];
    den = den + m * (sums[k + 2 * uniforms.nC] + sums[k + 3 * uniforms.nC]);
  }
  return vec4<f32>(msum, bce, inter, den);
}
fn mt_case(b : i32, c : i32) -> vec2<f32> {
  let m = mask[b * uniforms.nC + c];
  let k = (b * 4) * uniforms.nC + c;
  return vec2<f32>(m * sums[k + uniforms.nC], m * (sums[k + 2 * uniforms.nC] + sums[k + 3 * uniforms.nC]));
}
fn mt_dice(inter : f32, den : f32) -> f32 {
  return (2.0 * inter + uniforms.smoothing) / max(den + uniforms.smoothing, uniforms.denMin);
}
fn mt_weights() -> vec2<f32> {
  if (uniforms.mean == 0) { return vec2<f32>(1.0, 1.0); }
  var pairs = 0.0;
  var groups = 0.0;
  for (var c = 0; c < uniforms.nC; c = c + 1) {
    var msum = 0.0;
    for (var b = 0; b < uniforms.nB; b = b + 1) {
      let m = mask[b * uniforms.nC + c];
      msum = msum + m;
      if (uniforms.perCase != 0 && m > 0.0) { groups = groups + 1.0; }
    }
    pairs = pairs + msum;
    if (uniforms.perCase == 0 && msum > 0.0) { groups = groups + 1.0; }
  }
  return vec2<f32>(1.0 / max(pairs, 1.0), 1.0 / max(groups, 1.0));
}
`;

const LOSS_UNIFORMS = 'nB : i32, nN : i32, nC : i32, denMin : f32, smoothing : f32, perCase : i32, mean : i32,';

function lossUniforms(d: Dims, spec: SigmoidDiceBceSpec): Uniform[] {
  return [i32(d.B), i32(d.N), i32(d.C), f32(spec.denominatorMin), f32(spec.smooth), i32(spec.batchDice ? 0 : 1), i32(spec.reduction === 'mean' ? 1 : 0)];
}

const VALUE_WORKGROUP = 256;

function lossValue(sums: tf.Tensor, mask: tf.Tensor, d: Dims, spec: SigmoidDiceBceSpec): tf.Tensor {
  const code = `
${CLASS_WGSL}
var<workgroup> red : array<f32, ${VALUE_WORKGROUP}>;
fn main(index : i32) {
  let t = i32(localIndex);
  let w = mt_weights();
  var acc = 0.0;
  for (var c = t; c < uniforms.nC; c = c + ${VALUE_WORKGROUP}) {
    let k = mt_class(c);
    if (k.x > 0.0) {
      var dice = 0.0;
      if (uniforms.perCase != 0) {
        for (var b = 0; b < uniforms.nB; b = b + 1) {
          if (mask[b * uniforms.nC + c] > 0.0) {
            let q = mt_case(b, c);
            dice = dice + mt_dice(q.x, q.y);
          }
        }
      } else {
        dice = mt_dice(k.z, k.w);
      }
      acc = acc + (w.x * k.y - w.y * dice);
    }
  }
  red[t] = acc;
  workgroupBarrier();
${[128, 64, 32, 16, 8, 4, 2, 1].map((s) => `  if (t < ${s}) { red[t] = red[t] + red[t + ${s}]; }\n  workgroupBarrier();`).join('\n')}
  if (t == 0) { result[0] = red[0]; }
}
`;
  return runKernel(
    {
      key: 'multitalent_value',
      inputs: ['sums', 'mask'],
      outputSize: 1,
      workgroupSize: [VALUE_WORKGROUP, 1, 1],
      workgroups: 1,
      uniforms: LOSS_UNIFORMS,
      code,
    },
    [sums, mask],
    lossUniforms(d, spec),
    [],
  );
}

function lossCoefficients(sums: tf.Tensor, mask: tf.Tensor, dy: tf.Tensor, d: Dims, spec: SigmoidDiceBceSpec): tf.Tensor {
  const code = `
${CLASS_WGSL}
fn main(index : i32) {
  let BC = uniforms.nB * uniforms.nC;
  if (index < BC) {
    let c = index % uniforms.nC;
    let k = mt_class(c);
    let mk = mask[index];
    var u = 0.0;
    var v = 0.0;
    var w = 0.0;
    if (k.x > 0.0 && mk != 0.0) {
      let wt = mt_weights();
      var q = k.zw;
      if (uniforms.perCase != 0) { q = mt_case(index / uniforms.nC, c); }
      let f = dy[0] * mk;
      let dc = max(q.y + uniforms.smoothing, uniforms.denMin);
      u = f * wt.x / f32(uniforms.nN);
      v = 2.0 * f * wt.y / dc;
      w = select(0.0, f * wt.y * (2.0 * q.x + uniforms.smoothing) / (dc * dc), q.y + uniforms.smoothing >= uniforms.denMin);
    }
    result[index] = u;
    result[index + BC] = v;
    result[index + 2 * BC] = w;
  }
}
`;
  const size = 3 * d.B * d.C;
  return runKernel(
    {
      key: 'multitalent_coef',
      inputs: ['sums', 'mask', 'dy'],
      outputSize: size,
      workgroupSize: [64, 1, 1],
      workgroups: Math.ceil((d.B * d.C) / 64),
      uniforms: LOSS_UNIFORMS,
      code,
    },
    [sums, mask, dy],
    lossUniforms(d, spec),
    [size],
  );
}

function lossLogitGrad(z: tf.Tensor, g: tf.Tensor, coef: tf.Tensor, d: Dims): tf.Tensor {
  const v = vectorWidth(d.C);
  return runElementwise(
    {
      key: 'multitalent_grad',
      inputs: ['z', 'g', 'coef'],
      v,
      outputSize: d.B * d.N * d.C,
      uniforms: 'nB : i32, nN : i32, nC : i32,',
      decls: [SIGMOID_WGSL],
      body: `${sampleChannelWgsl(v)}
    let k = (b * uniforms.nC + c) / ${v};
    let BC = uniforms.nB * uniforms.nC / ${v};
    let p = mt_sigmoid(z[index]);
    let gv = g[index];
    result[index] = coef[k] * (p - gv) - p * (1.0 - p) * (coef[k + BC] * gv - coef[k + 2 * BC]);`,
    },
    [z, g, coef],
    [i32(d.B), i32(d.N), i32(d.C)],
    z.shape,
  );
}

/**
 * The forward kernel of the fused sigmoid Dice + BCE op (../loss/fused.ts: the MultiTalent loss,
 * nnU-Net's region loss): the scalar loss and the per-(b, c) sums [B, 4, C] (flat) the gradient reads.
 */
export function gpuSigmoidDiceBceForward(logits: tf.Tensor5D, targets: tf.Tensor, mask: tf.Tensor, spec: SigmoidDiceBceSpec): [tf.Tensor, tf.Tensor] {
  const [B, D, H, W, C] = logits.shape;
  const d: Dims = { B, N: D * H * W, C };
  const g = toFloat32(targets);
  const m = toFloat32(mask);
  const sums = reduceSums(LOSS_STATS, [logits, g], d);
  const value = lossValue(sums, m, d, spec);
  if (g !== targets) g.dispose();
  if (m !== mask) m.dispose();
  return [value, tf.reshape(sums, [sums.size])];
}

/** Its gradient kernel: d(loss)/d(logits) from the upstream dy (read on the GPU) and the sums. */
export function gpuSigmoidDiceBceBackward(dy: tf.Tensor, logits: tf.Tensor5D, targets: tf.Tensor, mask: tf.Tensor, sums: tf.Tensor, spec: SigmoidDiceBceSpec): tf.Tensor {
  const [B, D, H, W, C] = logits.shape;
  const d: Dims = { B, N: D * H * W, C };
  const g = toFloat32(targets);
  const m = toFloat32(mask);
  const coef = lossCoefficients(sums, m, dy, d, spec);
  const dz = lossLogitGrad(logits, g, coef, d);
  coef.dispose();
  if (g !== targets) g.dispose();
  if (m !== mask) m.dispose();
  return dz;
}
