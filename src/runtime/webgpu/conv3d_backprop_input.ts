// Conv3DBackpropInputV2 as implicit GEMMs, one per stride phase ("class").
//
// dx[i, ci] = sum over taps t and co of dy[o, co] * W[t, ci, co], where o * s = i + p - t per axis.
// Only taps t = (i + p) mod s (mod s) ever contribute to voxel i, so the input voxels are split into
// sD*sH*sW classes c by (i + p) mod s; within a class the gradient is a dense correlation over its
// own taps t = c + t'*s with o = q + j - t' (i = i0 + j*s, q = (i0 + p - c) / s). A stride-2
// 3x3x3 conv thus does 27 taps of work per 8 voxels instead of 8 * 27 (most of them zeros).
// Each class is its own dispatch writing its voxels of the shared dx tensor (directly, or through a
// split-K partial that the sum program scatters with the same row map); a class with no taps
// writes zeros. GEMM: rows = class voxels, cols = Cin, depth = class taps * Cout; B is read from the
// filter transposed to [taps, Cout, Cin] (conv3d_aux.ts) so that it is row-major along Cin.

import type { GemmSource } from './conv3d_gemm.js';
import {
  geometryConsts, geometryKey, rowMajorLoadB, unflattenWgsl, vec4GatherWgsl, type ConvGeometry,
} from './conv3d_geometry.js';

interface AxisClass {
  /** First input coordinate of the class, count of its coordinates, count of its taps, o offset. */
  i0: number;
  n: number;
  taps: number;
  q: number;
}

function axisClass(inSize: number, k: number, s: number, p: number, c: number): AxisClass {
  const i0 = (((c - p) % s) + s) % s;
  const n = inSize > i0 ? Math.ceil((inSize - i0) / s) : 0;
  const taps = c < k ? Math.ceil((k - c) / s) : 0;
  return { i0, n, taps, q: (i0 + p - c) / s };
}

/** The GEMM source of every class that owns at least one input voxel. */
export function inputGradSources(g: ConvGeometry): GemmSource[] {
  const out: GemmSource[] = [];
  for (let cd = 0; cd < g.sD; cd++) {
    for (let ch = 0; ch < g.sH; ch++) {
      for (let cw = 0; cw < g.sW; cw++) {
        const d = axisClass(g.inD, g.kD, g.sD, g.pD, cd);
        const h = axisClass(g.inH, g.kH, g.sH, g.pH, ch);
        const w = axisClass(g.inW, g.kW, g.sW, g.pW, cw);
        const rows = g.batch * d.n * h.n * w.n;
        if (rows === 0) continue;
        out.push(classSource(g, [cd, ch, cw], d, h, w));
      }
    }
  }
  return out;
}

function classSource(g: ConvGeometry, c: number[], d: AxisClass, h: AxisClass, w: AxisClass): GemmSource {
  const rows = g.batch * d.n * h.n * w.n;
  const depth = d.taps * h.taps * w.taps * g.outC;
  const dyVec4 = g.outC % 4 === 0;
  const wVec4 = g.inC % 4 === 0;
  const k = (name: string, v: number) => `const K_${name}: i32 = ${v};`;
  const consts = [
    k('CD', c[0]), k('CH', c[1]), k('CW', c[2]),
    k('I0D', d.i0), k('I0H', h.i0), k('I0W', w.i0),
    k('NID', d.n), k('NIH', h.n), k('NIW', w.n),
    // (a class without taps has depth 0 and never divides by these; 0 would be a WGSL error)
    k('NTD', Math.max(1, d.taps)), k('NTH', Math.max(1, h.taps)), k('NTW', Math.max(1, w.taps)),
    k('QD', d.q), k('QH', h.q), k('QW', w.q),
    k('ROWS', rows), k('DEPTH', depth),
  ].join('\n');
  const decomposeK = unflattenWgsl('k', [['co', 'C_CO'], ['tw', 'K_NTW'], ['th', 'K_NTH']], 'td', ['tap', 't1']);
  // (b, jd, jh, jw): the class voxel of GEMM row `row`, for the output row and for the dy gather.
  const decomposeRow = unflattenWgsl('row', [['jw', 'K_NIW'], ['jh', 'K_NIH'], ['jd', 'K_NID']], 'b');
  const dyIndex = '(info.x + (od * C_OH + oh) * C_OW + ow) * C_CO + co';
  const loadA = vec4GatherWgsl('gemmLoadA', 'dyAt1', dyVec4, (zero, at) => `
  if (info.x < 0 || k >= K_DEPTH) { return ${zero}; }
  ${decomposeK}
  let od = info.y - td;
  let oh = info.z - th;
  let ow = info.w - tw;
  if (u32(od) < u32(C_OD) && u32(oh) < u32(C_OH) && u32(ow) < u32(C_OW)) {
    return dy[${at(dyIndex)}];
  }
  return ${zero};`);
  return {
    key: `dx_${geometryKey(g)}_c${c.join('')}`,
    rows,
    cols: g.inC,
    depth,
    aLayout: 'redvec',
    variableNames: ['dy', 'Wt'],
    variableComponents: [dyVec4 ? 4 : 1, wVec4 ? 4 : 1],
    header: `
${geometryConsts(g)}
${consts}

fn gemmOutRow(row: i32) -> i32 {${decomposeRow}
  return ((b * C_D + K_I0D + jd * C_SD) * C_H + K_I0H + jh * C_SH) * C_W + K_I0W + jw * C_SW;
}
`,
    loaders: `
fn gemmRowInfo(row: i32) -> vec4<i32> {
  if (row >= K_ROWS) { return vec4<i32>(-1, 0, 0, 0); }${decomposeRow}
  return vec4<i32>(b * C_OUT_VOX, K_QD + jd, K_QH + jh, K_QW + jw);
}
${loadA}

fn wtRow(k: i32) -> i32 {
  ${decomposeK}
  let tapFull = ((K_CD + td * C_SD) * C_KH + K_CH + th * C_SH) * C_KW + K_CW + tw * C_SW;
  return tapFull * C_CO + co;
}
${rowMajorLoadB('Wt', 'K_DEPTH', g.inC, 'wtRow(k)')}
`,
  };
}
