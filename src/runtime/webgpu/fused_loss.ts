// The MultiTalent loss on the GPU (WGSL), the counterpart of fusedMultiTalentLoss in
// ../loss/fused.ts: same value, same gradient w.r.t. the logits (see that file for the math).
//
// Forward, logits z and targets g viewed as [B, N, C]:
//   1./2. per (b, c) sums over voxels of BCE-with-logits, p g, p, g (p = sigmoid z)  -> [B, 4, C]
//         (two-stage deterministic reduction, ./fused_reduce.ts)
//   3. one workgroup: per class BCE_c, num_c, den_c, the clamp, the annotated test, and the sum
//      over classes in a fixed tree                                               -> scalar
// Backward:
//   1. per (b, c) coefficients u, v, w of lossGrad (host_ops.ts), scaled by the upstream dy read
//      on the GPU (no host read-back)                                              -> [3, B, C]
//   2. element-wise dz = u (p - g) - p (1 - p) (v g - w)
// Float32 throughout (the cpu version sums in float64): the per-(b, c) sums are tree sums, whose
// rounding error grows with log(N) rather than N.
import * as tf from '@tensorflow/tfjs';
import { DICE_DENOMINATOR_MIN } from '../loss/constants.js';
import { NO_PARAMS_WGSL, reduceSums, type Dims, type PartialSpec } from './fused_reduce.js';
import { f32, i32, runElementwise, runKernel, sampleChannelWgsl, toFloat32, vectorWidth } from './fused_program.js';

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

/** Per class: (annotated, BCE_c, num_c, raw den_c) from the sums and the mask, summed over b. */
const CLASS_WGSL = `
fn mt_class(c : i32) -> vec4<f32> {
  var msum = 0.0;
  var bce = 0.0;
  var num = 0.0;
  var den = 0.0;
  for (var b = 0; b < uniforms.nB; b = b + 1) {
    let m = mask[b * uniforms.nC + c];
    let k = (b * 4) * uniforms.nC + c;
    msum = msum + m;
    bce = bce + m * sums[k] / f32(uniforms.nN);
    num = num + 2.0 * m * sums[k + uniforms.nC];
    den = den + m * (sums[k + 2 * uniforms.nC] + sums[k + 3 * uniforms.nC]);
  }
  return vec4<f32>(select(0.0, 1.0, msum > 0.0), bce, num, den);
}
`;

const VALUE_WORKGROUP = 256;

function lossValue(sums: tf.Tensor, mask: tf.Tensor, d: Dims): tf.Tensor {
  const code = `
${CLASS_WGSL}
var<workgroup> red : array<f32, ${VALUE_WORKGROUP}>;
fn main(index : i32) {
  let t = i32(localIndex);
  var acc = 0.0;
  for (var c = t; c < uniforms.nC; c = c + ${VALUE_WORKGROUP}) {
    let k = mt_class(c);
    if (k.x > 0.0) {
      acc = acc + (k.y - k.z / max(k.w, uniforms.denMin));
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
      uniforms: 'nB : i32, nN : i32, nC : i32, denMin : f32,',
      code,
    },
    [sums, mask],
    [i32(d.B), i32(d.N), i32(d.C), f32(DICE_DENOMINATOR_MIN)],
    [],
  );
}

function lossCoefficients(sums: tf.Tensor, mask: tf.Tensor, dy: tf.Tensor, d: Dims): tf.Tensor {
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
      let f = dy[0] * mk;
      let dc = max(k.w, uniforms.denMin);
      u = f / f32(uniforms.nN);
      v = 2.0 * f / dc;
      w = select(0.0, f * k.z / (dc * dc), k.w >= uniforms.denMin);
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
      uniforms: 'nB : i32, nN : i32, nC : i32, denMin : f32,',
      code,
    },
    [sums, mask, dy],
    [i32(d.B), i32(d.N), i32(d.C), f32(DICE_DENOMINATOR_MIN)],
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
 * The MultiTalent loss (see ../loss/multitalent.ts) as WGSL programs on the webgpu backend: same
 * value and gradient w.r.t. `logits` as fusedMultiTalentLoss; `targets` and `mask` get none.
 */
export function gpuMultiTalentLoss(logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D): tf.Scalar {
  // Shapes are checked by the caller, multiTalentLoss (../loss/multitalent.ts).
  const [B, D, H, W, C] = logits.shape;
  const d: Dims = { B, N: D * H * W, C };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const zi = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    // Converted once (int32 / bool inputs) inside the op's scope; the saved copies live for the tape.
    const g = toFloat32(targets);
    const m = toFloat32(mask);
    const sums = reduceSums(LOSS_STATS, [zi, g], d);
    const value = lossValue(sums, m, d) as tf.Scalar;
    save([zi, g, m, sums]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [zs, gs, ms, ss] = saved;
      const coef = lossCoefficients(ss, ms, dy, d);
      const dz = lossLogitGrad(zs, gs, coef, d);
      coef.dispose();
      return [dz];
    };
    return { value, gradFunc };
  });
  return op(logits) as tf.Scalar;
}
