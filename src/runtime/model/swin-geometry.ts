import type { Vec3 } from '../../graph/types.js';

/**
 * The host-side geometry of MONAI's Swin transformer stages (monai/networks/nets/swin_unetr.py,
 * MONAI 1.3, `use_v2=False`): the window and shift a stage uses at its resolution
 * (`get_window_size`), the padding to window multiples, the relative-position index of a window
 * (`WindowAttention.relative_position_index`, sliced `[:n, :n]` as MONAI slices it when the window is
 * clamped), and the shifted-window attention mask (`compute_mask`), written out as MONAI computes
 * them, including its Python slice semantics on axes without a shift.
 */

export interface StageGeometry {
  /** The stage's resolution [d, h, w] (tokens per axis). */
  dims: Vec3;
  /** The window used: the configured one, or the axis size where that is not larger than the window. */
  window: Vec3;
  /** The shift of the odd blocks: window / 2 (floor), 0 where the window was clamped. */
  shift: Vec3;
  /** The padded resolution: each axis rounded up to a multiple of the window. */
  padded: Vec3;
  /** Tokens per window. */
  tokens: number;
  /** Windows per sample. */
  windows: number;
}

/** `get_window_size(x_size, window_size, shift_size)` with the shift of an odd block (window // 2). */
export function stageGeometry(dims: Vec3, configured: Vec3): StageGeometry {
  const window = [0, 1, 2].map((a) => (dims[a] <= configured[a] ? dims[a] : configured[a])) as Vec3;
  const shift = [0, 1, 2].map((a) => (dims[a] <= configured[a] ? 0 : Math.floor(configured[a] / 2))) as Vec3;
  const padded = [0, 1, 2].map((a) => Math.ceil(dims[a] / window[a]) * window[a]) as Vec3;
  const tokens = window[0] * window[1] * window[2];
  const windows = (padded[0] / window[0]) * (padded[1] / window[1]) * (padded[2] / window[2]);
  return { dims, window, shift, padded, tokens, windows };
}

/** Entries of a configured window's relative-position bias table: (2w0-1)(2w1-1)(2w2-1). */
export function biasTableSize(configured: Vec3): number {
  return (2 * configured[0] - 1) * (2 * configured[1] - 1) * (2 * configured[2] - 1);
}

/**
 * The table row of each token pair (i, j), row-major over i then j, for the first `n` tokens of the
 * configured window (MONAI's `relative_position_index[:n, :n]`): tokens are numbered row-major
 * over (z, y, x) of the configured window, whatever the window used.
 */
export function relativePositionIndex(configured: Vec3, n: number): Int32Array {
  const [w0, w1, w2] = configured;
  const full = w0 * w1 * w2;
  if (n > full) throw new Error(`internal: ${n} tokens for a window of ${full}`);
  const coord = (t: number): Vec3 => [Math.floor(t / (w1 * w2)), Math.floor(t / w2) % w1, t % w2];
  const out = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    const a = coord(i);
    for (let j = 0; j < n; j++) {
      const b = coord(j);
      out[i * n + j] = (a[0] - b[0] + w0 - 1) * (2 * w1 - 1) * (2 * w2 - 1) + (a[1] - b[1] + w1 - 1) * (2 * w2 - 1) + (a[2] - b[2] + w2 - 1);
    }
  }
  return out;
}

/**
 * For the gradient of the bias lookup: per table row, the pair positions that read it, padded with
 * `index.length` (a zero row) to the largest count `perRow`. Returns [rows * perRow] positions.
 */
export function inverseIndex(index: Int32Array, rows: number): { positions: Int32Array; perRow: number } {
  const counts = new Int32Array(rows);
  for (const r of index) counts[r]++;
  const perRow = Math.max(1, ...counts);
  const positions = new Int32Array(rows * perRow).fill(index.length);
  const fill = new Int32Array(rows);
  index.forEach((r, p) => {
    positions[r * perRow + fill[r]++] = p;
  });
  return { positions, perRow };
}

/** The three ranges MONAI's `compute_mask` assigns along one axis of length L (Python slices of -w, -s). */
function maskRanges(L: number, w: number, s: number): [number, number][] {
  // slice(-w) = [0, L - w); slice(-w, -s) = [L - w, L - s), empty for s = 0 (stop 0);
  // slice(-s, None) = [L - s, L), the whole axis for s = 0 (-0 is 0).
  return [
    [0, L - w],
    [L - w, s > 0 ? L - s : 0],
    [s > 0 ? L - s : 0, L],
  ];
}

/**
 * MONAI's shifted-window attention mask for a stage: [windows, tokens, tokens] with 0 where two
 * tokens of a window come from the same region of the rolled volume, -100 elsewhere.
 */
export function attentionMask(g: StageGeometry): Float32Array {
  const [D, H, W] = g.padded;
  const region = new Int32Array(D * H * W);
  let cnt = 0;
  for (const [d0, d1] of maskRanges(D, g.window[0], g.shift[0])) {
    for (const [h0, h1] of maskRanges(H, g.window[1], g.shift[1])) {
      for (const [w0, w1] of maskRanges(W, g.window[2], g.shift[2])) {
        for (let d = d0; d < d1; d++) for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) region[(d * H + h) * W + w] = cnt;
        cnt++;
      }
    }
  }
  const [a, b, c] = g.window;
  const nd = D / a;
  const nh = H / b;
  const nw = W / c;
  const n = g.tokens;
  const mask = new Float32Array(g.windows * n * n);
  const tok = new Int32Array(n);
  for (let wd = 0; wd < nd; wd++) {
    for (let wh = 0; wh < nh; wh++) {
      for (let ww = 0; ww < nw; ww++) {
        const win = (wd * nh + wh) * nw + ww;
        let t = 0;
        for (let z = 0; z < a; z++) for (let y = 0; y < b; y++) for (let x = 0; x < c; x++) tok[t++] = region[((wd * a + z) * H + wh * b + y) * W + ww * c + x];
        const base = win * n * n;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) mask[base + i * n + j] = tok[i] === tok[j] ? 0 : -100;
      }
    }
  }
  return mask;
}

/** True when any axis of the stage shifts (its odd blocks use the mask). */
export function shifts(g: StageGeometry): boolean {
  return g.shift.some((s) => s > 0);
}

/**
 * The window partition of one sample as a row index: row r of the windows (window-major, windows and
 * tokens row-major over (z, y, x), MONAI's window_partition) holds voxel index[r] of the stage's
 * [d, h, w] volume, or -1 where it is padding. With `rolled`, the padded volume is first rolled by
 * -shift (torch.roll). Also the inverse: per voxel, its window row.
 */
export function windowRows(g: StageGeometry, rolled: boolean): { index: Int32Array; inverse: Int32Array } {
  const [D, H, W] = g.dims;
  const [P0, P1, P2] = g.padded;
  const [a, b, c] = g.window;
  const s = rolled ? g.shift : ([0, 0, 0] as Vec3);
  const index = new Int32Array(g.windows * g.tokens);
  const inverse = new Int32Array(D * H * W).fill(-1);
  let r = 0;
  for (let wd = 0; wd < P0 / a; wd++) {
    for (let wh = 0; wh < P1 / b; wh++) {
      for (let ww = 0; ww < P2 / c; ww++) {
        for (let z = 0; z < a; z++) {
          for (let y = 0; y < b; y++) {
            for (let x = 0; x < c; x++) {
              const qz = (wd * a + z + s[0]) % P0;
              const qy = (wh * b + y + s[1]) % P1;
              const qx = (ww * c + x + s[2]) % P2;
              if (qz < D && qy < H && qx < W) {
                const v = (qz * H + qy) * W + qx;
                index[r] = v;
                inverse[v] = r;
              } else index[r] = -1;
              r++;
            }
          }
        }
      }
    }
  }
  return { index, inverse };
}
