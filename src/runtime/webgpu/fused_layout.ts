// Data-movement parts of the U-Net on the GPU (WGSL): the webgpu kernels of the fused ops
// concatChannels, addBias, depthToSpaceBias, upsampleFilter and residualAct of ../model/fused.ts
// and their gradients (registered in ./fused_kernels.ts; same values as the host kernels). Each is
// one gather pass: a thread per output element, or per 4 consecutive channels (vec4 loads and
// stores) when every channel count involved is a multiple of 4. Bias gradients are the channel sums
// of dy through the deterministic two-stage reduction (./fused_reduce.ts columnSums).
import * as tf from '@tensorflow/tfjs';
import { f32, WORKGROUP_INDEX_WGSL, i32, runElementwise, runKernel, vectorWidth } from './fused_program.js';

/** out [n, Ca + Cb] = [a | b] along the channel axis. */
export function concatKernel(a: tf.Tensor, b: tf.Tensor, n: number, Ca: number, Cb: number, shape: number[]): tf.Tensor {
  const C = Ca + Cb;
  const v = vectorWidth(Ca, Cb);
  return runElementwise(
    {
      key: 'concat',
      inputs: ['A', 'Bv'],
      v,
      outputSize: n * C,
      uniforms: 'nC : i32, nA : i32,',
      body: `
    let e = index * ${v};
    let i = e / uniforms.nC;
    let c = e % uniforms.nC;
    if (c < uniforms.nA) {
      result[index] = A[(i * uniforms.nA + c) / ${v}];
    } else {
      result[index] = Bv[(i * (uniforms.nC - uniforms.nA) + c - uniforms.nA) / ${v}];
    }`,
    },
    [a, b],
    [i32(C), i32(Ca)],
    shape,
  );
}

/** out [n, Cs] = channels [first, first + Cs) of x [n, C]. */
export function channelSlice(x: tf.Tensor, n: number, C: number, first: number, Cs: number, shape: number[]): tf.Tensor {
  const v = vectorWidth(C, first, Cs);
  return runElementwise(
    {
      key: 'channel_slice',
      inputs: ['x'],
      v,
      outputSize: n * Cs,
      uniforms: 'nC : i32, first : i32, nS : i32,',
      body: `
    let e = index * ${v};
    let i = e / uniforms.nS;
    let c = e % uniforms.nS;
    result[index] = x[(i * uniforms.nC + uniforms.first + c) / ${v}];`,
    },
    [x],
    [i32(C), i32(first), i32(Cs)],
    shape,
  );
}


export function addBiasKernel(x: tf.Tensor, bias: tf.Tensor, C: number): tf.Tensor {
  const v = vectorWidth(C);
  return runElementwise(
    {
      key: 'add_bias',
      inputs: ['x', 'bias'],
      v,
      outputSize: x.size,
      uniforms: 'nC : i32,',
      body: `
    result[index] = x[index] + bias[((index * ${v}) % uniforms.nC) / ${v}];`,
    },
    [x, bias],
    [i32(C)],
    x.shape,
  );
}


/**
 * The depth-to-space index map, shared by both directions: for the element (b, d, h, w, t, c) of
 * x [B, D, H, W, taps*C], t = (kz, ky, kx), the flat index of its place in
 * [B, D*sz, H*sy, W*sx, C]. `toOut` true: gather x (+ bias) into the output; false: gather dy back.
 */
export function depthToSpaceKernel(src: tf.Tensor, bias: tf.Tensor | undefined, dims: number[], stride: [number, number, number], toOut: boolean, shape: number[]): tf.Tensor {
  const [B, D, H, W, C] = dims;
  const [sz, sy, sx] = stride;
  const v = vectorWidth(C);
  const size = B * D * H * W * sz * sy * sx * C;
  // Decompose the flat index of the array being written; compute the index of the one read.
  const body = toOut
    ? `
    // e indexes the output [B, OD, OH, OW, C].
    let c = e % uniforms.nC;
    var r = e / uniforms.nC;
    let ow = r % (uniforms.nW * uniforms.sx); r = r / (uniforms.nW * uniforms.sx);
    let oh = r % (uniforms.nH * uniforms.sy); r = r / (uniforms.nH * uniforms.sy);
    let od = r % (uniforms.nD * uniforms.sz);
    let b = r / (uniforms.nD * uniforms.sz);
    let t = ((od % uniforms.sz) * uniforms.sy + oh % uniforms.sy) * uniforms.sx + ow % uniforms.sx;
    let voxel = ((b * uniforms.nD + od / uniforms.sz) * uniforms.nH + oh / uniforms.sy) * uniforms.nW + ow / uniforms.sx;
    let taps = uniforms.sz * uniforms.sy * uniforms.sx;
    result[index] = src[((voxel * taps + t) * uniforms.nC + c) / ${v}] + bias[c / ${v}];`
    : `
    // e indexes dx [B, D, H, W, taps * C].
    let c = e % uniforms.nC;
    var r = e / uniforms.nC;
    let taps = uniforms.sz * uniforms.sy * uniforms.sx;
    let t = r % taps; r = r / taps;
    let w = r % uniforms.nW; r = r / uniforms.nW;
    let h = r % uniforms.nH; r = r / uniforms.nH;
    let d = r % uniforms.nD;
    let b = r / uniforms.nD;
    let kx = t % uniforms.sx;
    let ky = (t / uniforms.sx) % uniforms.sy;
    let kz = t / (uniforms.sx * uniforms.sy);
    let od = (b * uniforms.nD + d) * uniforms.sz + kz;
    let oh = od * uniforms.nH * uniforms.sy + h * uniforms.sy + ky;
    let ow = oh * uniforms.nW * uniforms.sx + w * uniforms.sx + kx;
    result[index] = src[(ow * uniforms.nC + c) / ${v}];`;
  return runElementwise(
    {
      key: `depth_to_space_${toOut ? 'fwd' : 'bwd'}`,
      inputs: bias ? ['src', 'bias'] : ['src'],
      v,
      outputSize: size,
      uniforms: 'nD : i32, nH : i32, nW : i32, nC : i32, sz : i32, sy : i32, sx : i32,',
      body: `
    let e = index * ${v};${body}`,
    },
    bias ? [src, bias] : [src],
    [i32(D), i32(H), i32(W), i32(C), i32(sz), i32(sy), i32(sx)],
    shape,
  );
}


/** Transposes a [rows, cols] matrix through 32 x 32 tiles in workgroup memory (coalesced both ways). */
export function transpose2d(x: tf.Tensor, rows: number, cols: number, shape: number[]): tf.Tensor {
  const tilesX = Math.ceil(cols / 32);
  const tilesY = Math.ceil(rows / 32);
  const code = `
${WORKGROUP_INDEX_WGSL}
var<workgroup> tile : array<f32, ${32 * 33}>;
fn main(index : i32) {
  let wg = mt_workgroupIndex();
  let tx = wg % uniforms.tilesX;
  let ty = wg / uniforms.tilesX;
  let lx = i32(localId.x);
  let ly = i32(localId.y);
  for (var j = 0; j < 32; j = j + 8) {
    let r = ty * 32 + ly + j;
    let c = tx * 32 + lx;
    if (r < uniforms.nR && c < uniforms.nK) {
      tile[(ly + j) * 33 + lx] = x[r * uniforms.nK + c];
    }
  }
  workgroupBarrier();
  for (var j = 0; j < 32; j = j + 8) {
    let c = tx * 32 + ly + j;
    let r = ty * 32 + lx;
    if (r < uniforms.nR && c < uniforms.nK) {
      result[c * uniforms.nR + r] = tile[lx * 33 + ly + j];
    }
  }
}
`;
  return runKernel(
    {
      key: 'transpose2d',
      inputs: ['x'],
      outputSize: rows * cols,
      workgroupSize: [32, 8, 1],
      workgroups: tilesX * tilesY,
      uniforms: 'nR : i32, nK : i32, tilesX : i32,',
      code,
    },
    [x],
    [i32(rows), i32(cols), i32(tilesX)],
    shape,
  );
}

/** An element-wise program over two same-size arrays p, q with the uniform `slope`. */
function slopeKernel(key: string, p: tf.Tensor, q: tf.Tensor, slope: number, body: string): tf.Tensor {
  return runElementwise(
    { key, inputs: ['p', 'q'], v: vectorWidth(p.size), outputSize: p.size, uniforms: 'slope : f32,', body },
    [p, q],
    [f32(slope)],
    p.shape,
  );
}

/** out = LeakyReLU(a + b) (a residual block's end). */
export function residualActKernel(a: tf.Tensor, b: tf.Tensor, slope: number): tf.Tensor {
  return slopeKernel('residual_act', a, b, slope, `
    let z = p[index] + q[index];
    result[index] = select(uniforms.slope * z, z, z > T(0.0));`);
}

/** Its gradient from the output y: dy where y > 0, else slope * dy. */
export function residualActGradKernel(y: tf.Tensor, dy: tf.Tensor, slope: number): tf.Tensor {
  return slopeKernel('residual_act_grad', y, dy, slope, `
    let g = q[index];
    result[index] = select(uniforms.slope * g, g, p[index] > T(0.0));`);
}
