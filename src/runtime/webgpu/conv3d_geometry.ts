// Conv3D geometry as baked WGSL constants, plus the im2col gather shared by the forward kernel and
// the filter gradient. Layouts (tfjs): x [B, D, H, W, Cin], filter [kd, kh, kw, Cin, Cout],
// y / dy [B, oD, oH, oW, Cout].

import type * as tf from '@tensorflow/tfjs';

export interface ConvGeometry {
  batch: number;
  inD: number; inH: number; inW: number; inC: number;
  outD: number; outH: number; outW: number; outC: number;
  kD: number; kH: number; kW: number;
  sD: number; sH: number; sW: number;
  /** Front/top/left padding (the back/bottom/right follows from the sizes). */
  pD: number; pH: number; pW: number;
}

export function geometryOf(info: tf.backend_util.Conv3DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inD: info.inDepth, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outD: info.outDepth, outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    kD: info.filterDepth, kH: info.filterHeight, kW: info.filterWidth,
    sD: info.strideDepth, sH: info.strideHeight, sW: info.strideWidth,
    pD: info.padInfo.front, pH: info.padInfo.top, pW: info.padInfo.left,
  };
}

/** A short, complete description of the geometry (for pipeline cache keys). */
export function geometryKey(g: ConvGeometry): string {
  return [
    g.batch, g.inD, g.inH, g.inW, g.inC, g.outD, g.outH, g.outW, g.outC,
    g.kD, g.kH, g.kW, g.sD, g.sH, g.sW, g.pD, g.pH, g.pW,
  ].join('_');
}

/** Every geometry field as a WGSL `const C_*: i32`. */
export function geometryConsts(g: ConvGeometry): string {
  const c = (name: string, v: number) => `const C_${name}: i32 = ${v};`;
  return [
    c('B', g.batch), c('D', g.inD), c('H', g.inH), c('W', g.inW), c('CI', g.inC),
    c('OD', g.outD), c('OH', g.outH), c('OW', g.outW), c('CO', g.outC),
    c('KD', g.kD), c('KH', g.kH), c('KW', g.kW),
    c('SD', g.sD), c('SH', g.sH), c('SW', g.sW),
    c('PD', g.pD), c('PH', g.pH), c('PW', g.pW),
    c('IN_VOX', g.inD * g.inH * g.inW), c('OUT_VOX', g.outD * g.outH * g.outW),
    c('IM2COL_ROWS', g.batch * g.outD * g.outH * g.outW),
    c('IM2COL_COLS', g.kD * g.kH * g.kW * g.inC),
  ].join('\n');
}

/** GemmSource header of a GEMM whose rows are the output rows: the geometry constants and an identity gemmOutRow. */
export function identityRowHeader(g: ConvGeometry): string {
  return `
${geometryConsts(g)}
fn gemmOutRow(row: i32) -> i32 { return row; }
`;
}

/**
 * WGSL `let`s splitting the row-major index `flat` into coordinates: `digits` [name, size] innermost
 * first, then `outer` (the rest); `quotients` name the partial quotients (default r1, r2, ...).
 */
export function unflattenWgsl(
  flat: string,
  digits: [string, string][],
  outer: string,
  quotients: string[] = digits.slice(1).map((_, i) => `r${i + 1}`),
): string {
  let wgsl = '';
  let rest = flat;
  digits.forEach(([name, size], i) => {
    const next = i === digits.length - 1 ? outer : quotients[i];
    wgsl += `
  let ${name} = ${rest} % ${size};
  let ${next} = ${rest} / ${size};`;
    rest = next;
  });
  return wgsl;
}

/**
 * WGSL `fn ${name}(info: vec4<i32>, k: i32) -> vec4<f32>` gathering elements k..k+3: `body(zero, at)`
 * is the code of one read (`at` turns an element index into the array index, `zero` is the value
 * outside), done once as a vec4 read when `vec4`, else in a scalar `fn ${scalarName}` called 4 times.
 */
export function vec4GatherWgsl(
  name: string,
  scalarName: string,
  vec4: boolean,
  body: (zero: string, at: (index: string) => string) => string,
): string {
  if (vec4) {
    return `
fn ${name}(info: vec4<i32>, k: i32) -> vec4<f32> {${body('vec4<f32>(0.0)', (i) => `(${i}) / 4`)}
}`;
  }
  const s = scalarName;
  return `
fn ${s}(info: vec4<i32>, k: i32) -> f32 {${body('0.0', (i) => i)}
}

fn ${name}(info: vec4<i32>, k: i32) -> vec4<f32> {
  return vec4<f32>(${s}(info, k), ${s}(info, k + 1), ${s}(info, k + 2), ${s}(info, k + 3));
}`;
}

/**
 * WGSL for the im2col matrix of x: row m = output voxel (b, od, oh, ow), column k = (kd, kh, kw, ci).
 *   fn im2colInfo(m) -> vec4<i32>: (b * inVoxels, od*sD - pD, oh*sH - pH, ow*sW - pW), x = -1 past the end
 *   fn im2col4(info, k) -> vec4<f32>: im2col[m, k..k+3], zero outside x (padding) and past the last column
 * x is read as vec4s when Cin % 4 == 0 (then k..k+3 share one voxel, k a multiple of 4).
 */
export function im2colSource(g: ConvGeometry, xName: string, xVec4: boolean): string {
  const decompose = `${unflattenWgsl('k', [['ci', 'C_CI'], ['kw', 'C_KW'], ['kh', 'C_KH']], 'kd', ['tap', 't1'])}
  let id = info.y + kd;
  let ih = info.z + kh;
  let iw = info.w + kw;`;
  const inside = 'u32(id) < u32(C_D) && u32(ih) < u32(C_H) && u32(iw) < u32(C_W)';
  const offset = '(info.x + (id * C_H + ih) * C_W + iw) * C_CI + ci';
  const gather = vec4GatherWgsl('im2col4', 'im2col1', xVec4, (zero, at) => `
  if (info.x < 0 || k >= C_IM2COL_COLS) { return ${zero}; }
  ${decompose}
  if (${inside}) { return ${xName}[${at(offset)}]; }
  return ${zero};`);
  return `
fn im2colInfo(m: i32) -> vec4<i32> {
  if (m >= C_IM2COL_ROWS) { return vec4<i32>(-1, 0, 0, 0); }${unflattenWgsl('m', [['ow', 'C_OW'], ['oh', 'C_OH'], ['od', 'C_OD']], 'b')}
  return vec4<i32>(b * C_IN_VOX, od * C_SD - C_PD, oh * C_SH - C_PH, ow * C_SW - C_PW);
}
${gather}`;
}

/**
 * WGSL `fn gemmLoadB(k, col) -> vec4<f32>` reading B[k, col..col+3] from the row-major
 * [depth, cols] array `name` (vec4 reads when cols % 4 == 0), zero outside. `rowIndex` maps the GEMM
 * reduction index k to the array row (identity unless given).
 */
export function rowMajorLoadB(name: string, depth: string, cols: number, rowIndex = 'k'): string {
  if (cols % 4 === 0) {
    return `
fn gemmLoadB(k: i32, col: i32) -> vec4<f32> {
  if (k >= ${depth} || col >= ${cols}) { return vec4<f32>(0.0); }
  return ${name}[((${rowIndex}) * ${cols} + col) / 4];
}`;
  }
  return `
fn gemmLoadB(k: i32, col: i32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (k >= ${depth}) { return v; }
  let base = (${rowIndex}) * ${cols} + col;
  if (col < ${cols}) { v.x = ${name}[base]; }
  if (col + 1 < ${cols}) { v.y = ${name}[base + 1]; }
  if (col + 2 < ${cols}) { v.z = ${name}[base + 2]; }
  if (col + 3 < ${cols}) { v.w = ${name}[base + 3]; }
  return v;
}`;
}
