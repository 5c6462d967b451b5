// Conv3DBackpropFilterV2 as an implicit GEMM: dW[k, co] = sum over m of im2col(x)[m, k] * dy[m, co].
// GEMM rows are the filter rows k = (kd, kh, kw, ci), the reduction runs over the output voxels m
// (up to millions), so the caller splits it (split-K) and sums the slices in a fixed order.
// The A tile is `outervec`: consecutive k are consecutive channels of one voxel of x.

import type { GemmSource } from './conv3d_gemm.js';
import { geometryKey, identityRowHeader, im2colSource, rowMajorLoadB, type ConvGeometry } from './conv3d_geometry.js';

export function filterGradSource(g: ConvGeometry): GemmSource {
  const rows = g.kD * g.kH * g.kW * g.inC;
  const depth = g.batch * g.outD * g.outH * g.outW;
  const xVec4 = g.inC % 4 === 0;
  const dyVec4 = g.outC % 4 === 0;
  return {
    key: `dw_${geometryKey(g)}`,
    rows,
    cols: g.outC,
    depth,
    aLayout: 'outervec',
    variableNames: ['x', 'dy'],
    variableComponents: [xVec4 ? 4 : 1, dyVec4 ? 4 : 1],
    header: identityRowHeader(g),
    loaders: `${im2colSource(g, 'x', xVec4)}
fn gemmLoadA(row: i32, k: i32) -> vec4<f32> { return im2col4(im2colInfo(k), row); }
${rowMajorLoadB('dy', 'C_IM2COL_ROWS', g.outC)}
`,
  };
}
