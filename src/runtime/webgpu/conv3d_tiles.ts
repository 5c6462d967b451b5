// Tile shapes and the split-K rule for the implicit-GEMM conv3d kernels (conv3d_gemm.ts).
//
// A GEMM computes C[rows, cols] = sum over depth of A[row, d] * B[d, col]. A workgroup owns a
// (wgM * tm) x (wgN * tn) block of C; each thread keeps a tm x tn register block (tn a multiple of 4,
// held as vec4 columns). The reduction advances TK at a time through shared memory.

/** How the A tile sits in shared memory: vec4s along the reduction (`redvec`: As[row][k/4]) or
 * along the rows (`outervec`: As[k][row/4]). The loader that is contiguous in memory decides. */
export type ALayout = 'redvec' | 'outervec';

export interface GemmTiles {
  /** Rows of C per thread (register block). */
  tm: number;
  /** Columns of C per thread (multiple of 4). */
  tn: number;
  /** Threads along the rows of the workgroup tile. */
  wgM: number;
  /** Threads along the columns of the workgroup tile. */
  wgN: number;
}

/** Reduction step per shared-memory tile. (BM + BN) * TK * 4 bytes <= 16 KiB, WebGPU's default limit. */
export const TK = 16;

/** Enough workgroups to keep a large GPU busy (H100: 132 SMs, several workgroups each). */
const TARGET_WORKGROUPS = 512;
/** Each split-K slice reduces at least this many TK tiles, so the partial sums pay for themselves. */
const MIN_TILES_PER_SPLIT = 8;
/** Cap on the split-K partial buffer, in floats (128 MiB: also the smallest binding limit we saw). */
const MAX_PARTIAL_FLOATS = 32 * 1024 * 1024;

export function tileRows(t: GemmTiles): number {
  return t.wgM * t.tm;
}

export function tileCols(t: GemmTiles): number {
  return t.wgN * t.tn;
}

export function tileThreads(t: GemmTiles): number {
  return t.wgM * t.wgN;
}

/** Column tile: the smallest of 4..64 covering `cols`, else 128 or 64, whichever pads less. */
function chooseTileCols(cols: number): number {
  for (const bn of [4, 8, 16, 32, 64]) if (cols <= bn) return bn;
  const padded = (bn: number) => Math.ceil(cols / bn) * bn;
  return padded(128) <= padded(64) ? 128 : 64;
}

/**
 * Register/thread layout for a GEMM of `rows` x `cols`. Wide tiles (8x8 or 8x4 per thread, 128-256
 * threads) for the big layers; narrow column tiles for small channel counts (segmentation heads);
 * the row tile shrinks when there are few rows (e.g. the filter gradient of a Cin=1 layer).
 */
export function chooseTiles(rows: number, cols: number, aLayout: ALayout): GemmTiles {
  const bn = chooseTileCols(cols);
  let t: GemmTiles;
  switch (bn) {
    case 128: t = { tm: 8, tn: 8, wgM: 16, wgN: 16 }; break;
    case 64: t = { tm: 8, tn: 4, wgM: 16, wgN: 16 }; break;
    case 32: t = { tm: 8, tn: 4, wgM: 16, wgN: 8 }; break;
    case 16: t = { tm: 4, tn: 4, wgM: 32, wgN: 4 }; break;
    case 8: t = { tm: 2, tn: 4, wgM: 64, wgN: 2 }; break;
    default: t = { tm: 1, tn: 4, wgM: 128, wgN: 1 }; break;
  }
  // `outervec` reads A rows as vec4s, so a thread holds whole groups of 4 rows.
  const minTm = aLayout === 'outervec' ? 4 : 1;
  if (t.tm < minTm) {
    t.wgM = Math.max(1, (t.wgM * t.tm) / minTm);
    t.tm = minTm;
  }
  while (tileRows(t) / 2 >= rows) {
    if (t.tm > minTm) t.tm /= 2;
    else if (t.wgM > 1 && tileThreads(t) > 32) t.wgM /= 2;
    else break;
  }
  return t;
}

export interface SplitK {
  /** Number of slices of the reduction (1: no split, the GEMM writes its output directly). */
  splits: number;
  /** TK tiles per slice. */
  tilesPerSplit: number;
}

/**
 * Split the reduction when the output tiles alone give too few workgroups: aim at
 * TARGET_WORKGROUPS, each slice at least MIN_TILES_PER_SPLIT tiles deep, and a partial buffer of
 * splits * rows * cols floats at most MAX_PARTIAL_FLOATS. The slices are summed afterwards in a fixed
 * order (deterministic).
 */
export function chooseSplitK(rows: number, cols: number, depth: number, t: GemmTiles): SplitK {
  const kTiles = Math.max(1, Math.ceil(depth / TK));
  const outTiles = Math.ceil(rows / tileRows(t)) * Math.ceil(cols / tileCols(t));
  let splits = Math.ceil(TARGET_WORKGROUPS / outTiles);
  splits = Math.min(splits, Math.floor(kTiles / MIN_TILES_PER_SPLIT));
  splits = Math.min(splits, Math.floor(MAX_PARTIAL_FLOATS / Math.max(1, rows * cols)));
  splits = Math.max(1, splits);
  const tilesPerSplit = Math.ceil(kTiles / splits);
  return { splits: Math.ceil(kTiles / tilesPerSplit), tilesPerSplit };
}
