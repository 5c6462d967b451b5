// The shared implicit-GEMM core of the conv3d kernels: one WGSL program shape, C = A * B, where a
// kernel-specific source (conv3d_forward.ts, conv3d_backprop_*.ts) supplies the operand gathers.
//
// Workgroup tile BM x BN (BM = wgM*tm, BN = wgN*tn), reduction in steps of TK = 16 through shared
// memory (As + Bs <= 16 KiB). Each thread accumulates a tm x tn block in registers as vec4 columns
// (fp32 fma). The next tile's global loads are issued into registers before the current tile is
// multiplied (register prefetch), so one shared buffer and two barriers per tile suffice.
//
// Thread (tRow, tCol) owns rows tRow + i*wgM (`redvec`) or 4*(tRow + g*wgM) + c (`outervec`) and
// vec4 columns tCol + j*wgN: neighbouring threads read neighbouring vec4s of Bs (no bank conflicts)
// and write neighbouring vec4s of C (coalesced).
//
// Every geometric quantity is baked into the WGSL as a constant (constant divisions become
// multiply-shifts); tfjs's pipeline cache key holds only ranks and dtypes, so `key` must name them all.
// tfjs still binds its uniform buffer, which the shader must therefore reference (see main()).
//
// Dispatch: the linear workgroup id L = x + y * numWorkgroups.x (folded when it exceeds 65535)
// enumerates (column tile, row tile, split) with the column tile fastest, so workgroups running
// together share their A rows in L2. Barriers sit only under constant control flow (WGSL uniformity).

import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

import { TK, tileCols, tileRows, tileThreads, type ALayout, type GemmTiles } from './conv3d_tiles.js';

/** The kernel-specific part of a GEMM program. */
export interface GemmSource {
  /** Names every constant baked into `header` and `loaders` (part of the pipeline cache key). */
  key: string;
  /** GEMM sizes: C is rows x cols, the reduction runs over depth. */
  rows: number;
  cols: number;
  depth: number;
  aLayout: ALayout;
  /** Input names (bound as storage arrays) and their vector widths (1 or 4). */
  variableNames: string[];
  variableComponents: number[];
  /** WGSL constants and `fn gemmOutRow(row: i32) -> i32` (the row of the [outRows, cols] output
   *  that GEMM row `row` fills). Reads no buffer: the split-K sum (conv3d_aux.ts) reuses it. */
  header: string;
  /** WGSL operand gathers (may use `header`), each returning zeros outside the matrices:
   *  - `redvec`:   fn gemmRowInfo(row: i32) -> vec4<i32>   (per-row data, computed once per thread)
   *                fn gemmLoadA(info: vec4<i32>, k: i32) -> vec4<f32>   (A[row, k..k+3])
   *  - `outervec`: fn gemmLoadA(row: i32, k: i32) -> vec4<f32>          (A[row..row+3, k])
   *  - fn gemmLoadB(k: i32, col: i32) -> vec4<f32>                       (B[k, col..col+3]) */
  loaders: string;
}

export interface GemmOptions {
  tiles: GemmTiles;
  /** Split-K slices (1: write C itself; >1: write partial sums [splits, outRows, cols]). */
  splits: number;
  tilesPerSplit: number;
  /** Output tensor shape (its element count is splits * outRows * cols). */
  outputShape: number[];
  /** Rows of the output matrix (>= rows; the backprop-input classes fill a subset). */
  outRows: number;
  /** Store GEMM row r at output row gemmOutRow(r) (else at r: split-K partials). */
  scatterRows: boolean;
}

const MAX_DISPATCH = 65535;

/** Implicit-GEMM program; see the file comment. */
export class Conv3dGemmProgram implements WebGPUProgram {
  variableNames: string[];
  variableComponents: number[];
  outputShape: number[];
  outputComponent: number;
  shaderKey: string;
  dispatchLayout: { x: number[]; y: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];

  private readonly src: GemmSource;
  private readonly opt: GemmOptions;

  constructor(src: GemmSource, opt: GemmOptions) {
    this.src = src;
    this.opt = opt;
    const t = opt.tiles;
    if (t.tn % 4 !== 0 || (src.aLayout === 'outervec' && t.tm % 4 !== 0)) {
      throw new Error(`conv3d gemm: bad tiles ${JSON.stringify(t)} for ${src.aLayout}`);
    }
    this.variableNames = src.variableNames;
    this.variableComponents = src.variableComponents;
    this.outputShape = opt.outputShape;
    this.outputComponent = src.cols % 4 === 0 ? 4 : 1;
    this.workgroupSize = [tileThreads(t), 1, 1];
    // Not a flat layout (y present), so tfjs calls main() without an index.
    this.dispatchLayout = { x: [0], y: [1] };
    const total = this.rowTiles() * this.colTiles() * opt.splits;
    const x = Math.min(total, MAX_DISPATCH);
    this.dispatch = [x, Math.ceil(total / x), 1];
    this.shaderKey =
      `conv3dGemm_${src.key}_${src.aLayout}_t${t.tm}x${t.tn}w${t.wgM}x${t.wgN}` +
      `_s${opt.splits}x${opt.tilesPerSplit}_o${opt.outRows}${opt.scatterRows ? 's' : ''}_${opt.outputShape.join('x')}`;
  }

  private rowTiles(): number {
    return Math.max(1, Math.ceil(this.src.rows / tileRows(this.opt.tiles)));
  }

  private colTiles(): number {
    return Math.max(1, Math.ceil(this.src.cols / tileCols(this.opt.tiles)));
  }

  getUserCode(): string {
    const { tiles: t, splits, tilesPerSplit, outRows, scatterRows } = this.opt;
    const { rows, cols, aLayout } = this.src;
    const BM = tileRows(t);
    const BN = tileCols(t);
    const T = tileThreads(t);
    const redvec = aLayout === 'redvec';
    const aCount = (BM * TK) / 4; // vec4s in the A tile
    const bCount = (TK * BN) / 4;
    const aLoads = Math.ceil(aCount / T);
    const bLoads = Math.ceil(bCount / T);
    const nGroups = t.tn / 4;
    const lines: string[] = [];
    const emit = (s: string) => lines.push(s);

    // --- tile loads into registers (aReg*, bReg*) for reduction offset `k0` ---
    const loadTile = (k0: string, indent: string): string => {
      const out: string[] = [];
      for (let l = 0; l < aLoads; l++) {
        const guard = (l + 1) * T > aCount ? `if (tid + ${l * T} < ${aCount}) ` : '';
        if (redvec) {
          out.push(`${guard}{ aReg${l} = gemmLoadA(info${l}, ${k0} + ((tid + ${l * T}) % ${TK / 4}) * 4); }`);
        } else {
          const v = `(tid + ${l * T})`;
          out.push(`${guard}{ aReg${l} = gemmLoadA(rowBase + (${v} % ${BM / 4}) * 4, ${k0} + ${v} / ${BM / 4}); }`);
        }
      }
      for (let l = 0; l < bLoads; l++) {
        const guard = (l + 1) * T > bCount ? `if (tid + ${l * T} < ${bCount}) ` : '';
        const v = `(tid + ${l * T})`;
        out.push(`${guard}{ bReg${l} = gemmLoadB(${k0} + ${v} / ${BN / 4}, colBase + (${v} % ${BN / 4}) * 4); }`);
      }
      return out.map((line) => indent + line).join('\n');
    };

    emit(`
const G_ROWS: i32 = ${rows};
const G_COLS: i32 = ${cols};
const G_OUT_ROWS: i32 = ${outRows};
const G_SPLITS: i32 = ${splits};
const G_TILES_PER_SPLIT: i32 = ${tilesPerSplit};
const G_ROW_TILES: i32 = ${this.rowTiles()};
const G_COL_TILES: i32 = ${this.colTiles()};
${this.src.header}
${this.src.loaders}
var<workgroup> As: ${redvec ? `array<array<vec4<f32>, ${TK / 4}>, ${BM}>` : `array<array<vec4<f32>, ${BM / 4}>, ${TK}>`};
var<workgroup> Bs: array<array<vec4<f32>, ${BN / 4}>, ${TK}>;

fn gemmStore(row: i32, col: i32, split: i32, v: vec4<f32>) {
  if (row >= G_ROWS || col >= G_COLS || split >= G_SPLITS) { return; }
  let base = (split * G_OUT_ROWS + ${scatterRows ? 'gemmOutRow(row)' : 'row'}) * G_COLS + col;
  ${
    cols % 4 === 0
      ? 'result[base / 4] = v;'
      : `result[base] = v.x;
  if (col + 1 < G_COLS) { result[base + 1] = v.y; }
  if (col + 2 < G_COLS) { result[base + 2] = v.z; }
  if (col + 3 < G_COLS) { result[base + 3] = v.w; }`
  }
}

fn main() {
  // tfjs binds its uniform buffer to every program and builds the pipeline layout with 'auto',
  // which keeps only statically used bindings: touch it although every size here is a constant.
  _ = uniforms.NAN;
  let tid = i32(localIndex);
  let tCol = tid % ${t.wgN};
  let tRow = tid / ${t.wgN};
  let wg = i32(workgroupId.x + workgroupId.y * numWorkgroups.x);
  let colTile = wg % G_COL_TILES;
  let rest = wg / G_COL_TILES;
  let rowTile = rest % G_ROW_TILES;
  let split = rest / G_ROW_TILES;
  let rowBase = rowTile * ${BM};
  let colBase = colTile * ${BN};
  let kBase = split * G_TILES_PER_SPLIT * ${TK};
`);
    if (redvec) {
      for (let l = 0; l < aLoads; l++) emit(`  let info${l} = gemmRowInfo(rowBase + (tid + ${l * T}) / ${TK / 4});`);
    }
    for (let l = 0; l < aLoads; l++) emit(`  var aReg${l} = vec4<f32>(0.0);`);
    for (let l = 0; l < bLoads; l++) emit(`  var bReg${l} = vec4<f32>(0.0);`);
    for (let i = 0; i < t.tm; i++) for (let j = 0; j < nGroups; j++) emit(`  var acc${i}_${j} = vec4<f32>(0.0);`);
    emit(loadTile('kBase', '  '));
    emit(`  for (var tile = 0; tile < G_TILES_PER_SPLIT; tile++) {
    workgroupBarrier();`);
    for (let l = 0; l < aLoads; l++) {
      const guard = (l + 1) * T > aCount ? `if (tid + ${l * T} < ${aCount}) ` : '';
      const v = `(tid + ${l * T})`;
      emit(
        redvec
          ? `    ${guard}{ As[${v} / ${TK / 4}][${v} % ${TK / 4}] = aReg${l}; }`
          : `    ${guard}{ As[${v} / ${BM / 4}][${v} % ${BM / 4}] = aReg${l}; }`,
      );
    }
    for (let l = 0; l < bLoads; l++) {
      const guard = (l + 1) * T > bCount ? `if (tid + ${l * T} < ${bCount}) ` : '';
      const v = `(tid + ${l * T})`;
      emit(`    ${guard}{ Bs[${v} / ${BN / 4}][${v} % ${BN / 4}] = bReg${l}; }`);
    }
    emit(`    workgroupBarrier();
    if (tile + 1 < G_TILES_PER_SPLIT) {
      let kNext = kBase + (tile + 1) * ${TK};
${loadTile('kNext', '      ')}
    }`);
    // --- multiply the shared tiles ---
    if (redvec) {
      emit(`    for (var k4 = 0; k4 < ${TK / 4}; k4++) {`);
      for (let i = 0; i < t.tm; i++) emit(`      let a${i} = As[tRow + ${i * t.wgM}][k4];`);
      for (let kk = 0; kk < 4; kk++) {
        for (let j = 0; j < nGroups; j++) emit(`      let b${kk}_${j} = Bs[k4 * 4 + ${kk}][tCol + ${j * t.wgN}];`);
        for (let i = 0; i < t.tm; i++) {
          for (let j = 0; j < nGroups; j++) emit(`      acc${i}_${j} = fma(vec4<f32>(a${i}[${kk}]), b${kk}_${j}, acc${i}_${j});`);
        }
      }
      emit('    }');
    } else {
      emit(`    for (var k = 0; k < ${TK}; k++) {`);
      for (let g = 0; g < t.tm / 4; g++) emit(`      let a${g} = As[k][tRow + ${g * t.wgM}];`);
      for (let j = 0; j < nGroups; j++) emit(`      let b${j} = Bs[k][tCol + ${j * t.wgN}];`);
      for (let g = 0; g < t.tm / 4; g++) {
        for (let c = 0; c < 4; c++) {
          for (let j = 0; j < nGroups; j++) {
            const i = g * 4 + c;
            emit(`      acc${i}_${j} = fma(vec4<f32>(a${g}[${c}]), b${j}, acc${i}_${j});`);
          }
        }
      }
      emit('    }');
    }
    emit('  }');
    // --- write the register block ---
    for (let i = 0; i < t.tm; i++) {
      const row = redvec ? `rowBase + tRow + ${i * t.wgM}` : `rowBase + (tRow + ${Math.floor(i / 4) * t.wgM}) * 4 + ${i % 4}`;
      for (let j = 0; j < nGroups; j++) {
        emit(`  gemmStore(${row}, colBase + (tCol + ${j * t.wgN}) * 4, split, acc${i}_${j});`);
      }
    }
    emit('}');
    return lines.join('\n');
  }
}
