// Conv3D forward as an implicit GEMM: y[m, co] = sum over k of im2col(x)[m, k] * W[k, co], with
// m = output voxel (B*oD*oH*oW rows), k = (kd, kh, kw, ci) and the filter already [K, Cout] row-major.

import type { GemmSource } from './conv3d_gemm.js';
import { geometryKey, identityRowHeader, im2colSource, rowMajorLoadB, type ConvGeometry } from './conv3d_geometry.js';

export function forwardSource(g: ConvGeometry): GemmSource {
  const rows = g.batch * g.outD * g.outH * g.outW;
  const depth = g.kD * g.kH * g.kW * g.inC;
  const xVec4 = g.inC % 4 === 0;
  const wVec4 = g.outC % 4 === 0;
  return {
    key: `fwd_${geometryKey(g)}`,
    rows,
    cols: g.outC,
    depth,
    aLayout: 'redvec',
    variableNames: ['x', 'W'],
    variableComponents: [xVec4 ? 4 : 1, wVec4 ? 4 : 1],
    header: identityRowHeader(g),
    loaders: `${im2colSource(g, 'x', xVec4)}
fn gemmRowInfo(row: i32) -> vec4<i32> { return im2colInfo(row); }
fn gemmLoadA(info: vec4<i32>, k: i32) -> vec4<f32> { return im2col4(info, k); }
${rowMajorLoadB('W', 'C_IM2COL_COLS', g.outC)}
`,
  };
}
