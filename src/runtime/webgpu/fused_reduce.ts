// Deterministic two-stage reductions over the voxels of channels-last tensors viewed as [B, N, C]:
// per (b, c) sums (or mean / sum of squared deviations) over the N rows.
//
// Stage 1 (`partialReduce`): the N rows of each sample are cut into `chunks` chunks of `chunkRows`
// rows (chunkPlan: at most 512 chunks, at least 32 rows). One workgroup of 32 x 8 threads handles
// one (b, chunk, channel tile). For C >= 32 a tile is 32 channels: thread (lane, tr) owns channel
// tile*32 + lane and walks rows tr, tr + 8, ... of the chunk, so the 32 threads of a warp read 32
// consecutive floats of a row (coalesced). For C < 32 one tile holds all C channels and each warp
// covers floor(32 / C) consecutive rows (lane = row slot * C + channel), so its loads stay
// contiguous instead of leaving most lanes idle. Threads step four rows at a time (four loads in
// flight). A fixed tree in workgroup memory merges the 8 row-threads, then the row slots of each
// channel are merged in order. Output: [B, chunks, Q, C] partial values.
// Stage 2 (`combineChunks`): one workgroup of 8 channels x 32 chunk-lanes per (b, 8-channel tile);
// each lane folds chunks lane, lane + 32, ... in order, then a fixed tree over the lanes. Output
// [B, Q, C]. No atomics anywhere, so results are bit-identical from run to run.
//
// 'welford' mode computes per chunk the mean and the sum of squared deviations M2 (Welford's update
// per thread, Chan et al.'s pairwise formula to merge threads, row slots, chunks and lanes), which
// stays accurate when |mean| >> std, unlike E[x^2] - E[x]^2 in float32.
import * as tf from '@tensorflow/tfjs';
import { i32, f32, runKernel, WORKGROUP_INDEX_WGSL, type Uniform } from './fused_program.js';

/** Channel tile (threads along C) and row-threads of a stage-1 workgroup. */
const TC = 32;
const TR = 8;
/** Channel tile and chunk-lanes of a stage-2 workgroup. */
const CC = 8;
const CL = 32;
/** Smallest chunk (rows) and most chunks per sample. */
const MIN_CHUNK_ROWS = 32;
const MAX_CHUNKS = 512;

export interface ChunkPlan {
  /** Rows (voxels) per chunk, a multiple of 32 (the last chunk may be shorter). */
  chunkRows: number;
  chunks: number;
}

/**
 * Chunking of N rows: at most 512 chunks per sample (so stage 2 is a short loop per lane), at least
 * 32 rows per chunk. For N = 1M voxels: 512 chunks of 2048 rows, 256 rows per thread.
 */
export function chunkPlan(N: number): ChunkPlan {
  const chunkRows = Math.max(MIN_CHUNK_ROWS, Math.ceil(Math.ceil(N / MAX_CHUNKS) / 32) * 32);
  return { chunkRows, chunks: Math.max(1, Math.ceil(N / chunkRows)) };
}

export interface Dims {
  B: number;
  N: number;
  C: number;
}

export interface PartialSpec {
  /** Unique name of the element code (part of the pipeline key). */
  name: string;
  /** Input array names; `inputs` passed to partialReduce follow this order. */
  inputs: string[];
  /** 'sum': Q sums of mt_elem(...)'s components; 'welford': mean and M2 of mt_elem(...).x (Q = 2). */
  mode: 'sum' | 'welford';
  /** Quantities per (b, c), 1..4 ('welford': 2). */
  q: number;
  /**
   * WGSL defining `struct TP {...}`, `fn mt_params(b : i32, c : i32) -> TP` (per-thread constants,
   * read once) and `fn mt_elem(o : i32, p : TP) -> vec4<f32>` (the quantities of flat element o).
   */
  code: string;
  /** Extra uniform fields (after the reduction's own) and their values. */
  uniforms?: string;
}

/** PartialSpec code without per-thread constants (`TP` unused, for specs that need none). */
export const NO_PARAMS_WGSL = `
struct TP { unused : i32, };
fn mt_params(b : i32, c : i32) -> TP { return TP(0); }`;

/** PartialSpec code whose quantity is the element of the input `x` itself. */
export const X_ELEM_WGSL = `${NO_PARAMS_WGSL}
fn mt_elem(o : i32, p : TP) -> vec4<f32> { return vec4<f32>(x[o], 0.0, 0.0, 0.0); }
`;

const ROW_UNIFORMS = 'nB : i32, nN : i32, nC : i32, rows : i32, chunks : i32, tiles : i32,';

function chanWgsl(): string {
  // Merge of two (count, mean, M2) summaries (Chan, Golub, LeVeque); a zero count is the identity.
  return `
fn mt_chan(a : vec4<f32>, b : vec4<f32>) -> vec4<f32> {
  let n = a.x + b.x;
  if (n == 0.0) { return vec4<f32>(0.0); }
  let d = b.y - a.y;
  let f = b.x / n;
  return vec4<f32>(n, a.y + d * f, a.z + b.z + d * d * a.x * f, 0.0);
}
`;
}

function partialCode(spec: PartialSpec): string {
  const welford = spec.mode === 'welford';
  const step = 'step * uniforms.nC';
  const accumulate = welford
    ? `
      let v0 = mt_elem(o, p).x;
      let v1 = mt_elem(o + ${step}, p).x;
      let v2 = mt_elem(o + 2 * ${step}, p).x;
      let v3 = mt_elem(o + 3 * ${step}, p).x;
      acc = mt_welford(mt_welford(mt_welford(mt_welford(acc, v0), v1), v2), v3);`
    : `
      let v0 = mt_elem(o, p);
      let v1 = mt_elem(o + ${step}, p);
      let v2 = mt_elem(o + 2 * ${step}, p);
      let v3 = mt_elem(o + 3 * ${step}, p);
      acc = acc + ((v0 + v1) + (v2 + v3));`;
  const tail = welford ? 'acc = mt_welford(acc, mt_elem(o, p).x);' : 'acc = acc + mt_elem(o, p);';
  const merge = (a: string, b: string): string => (welford ? `mt_chan(${a}, ${b})` : `${a} + ${b}`);
  const writes = welford ? ['s.y', 's.z'] : ['s.x', 's.y', 's.z', 's.w'].slice(0, spec.q);
  return `
${WORKGROUP_INDEX_WGSL}
${welford ? chanWgsl() : ''}
// Welford's update of (count, mean, M2) by one value.
fn mt_welford(s : vec4<f32>, v : f32) -> vec4<f32> {
  let n = s.x + 1.0;
  let d = v - s.y;
  let m = s.y + d / n;
  return vec4<f32>(n, m, s.z + d * (v - m), 0.0);
}
${spec.code}
var<workgroup> red : array<vec4<f32>, ${TC * TR}>;
fn main(index : i32) {
  let wg = mt_workgroupIndex();
  let lane = i32(localId.x);
  let tr = i32(localId.y);
  // Lane -> (row slot, channel): tileC channels per tile, rpw rows per 32 lanes (rpw > 1 packs
  // several rows of a narrow C into one warp so its loads stay contiguous).
  let sub = lane / uniforms.tileC;
  let cc = lane % uniforms.tileC;
  let tile = wg % uniforms.tiles;
  let rest = wg / uniforms.tiles;
  let chunk = rest % uniforms.chunks;
  let b = rest / uniforms.chunks;
  let c = tile * uniforms.tileC + cc;
  let live = b < uniforms.nB && c < uniforms.nC && sub < uniforms.rpw;
  let step = ${TR} * uniforms.rpw;
  var acc = vec4<f32>(0.0);
  if (live) {
    let p = mt_params(b, c);
    let r1 = min((chunk + 1) * uniforms.rows, uniforms.nN);
    let base = b * uniforms.nN;
    var r = chunk * uniforms.rows + tr * uniforms.rpw + sub;
    for (; r + 3 * step < r1; r = r + 4 * step) {
      let o = (base + r) * uniforms.nC + c;${accumulate}
    }
    for (; r < r1; r = r + step) {
      let o = (base + r) * uniforms.nC + c;
      ${tail}
    }
  }
  // Fixed-order tree over the 8 row-threads, then over the rpw row slots of each channel.
  let i = tr * ${TC} + lane;
  red[i] = acc;
  workgroupBarrier();
  if (tr < 4) { red[i] = ${merge('red[i]', `red[i + ${4 * TC}]`)}; }
  workgroupBarrier();
  if (tr < 2) { red[i] = ${merge('red[i]', `red[i + ${2 * TC}]`)}; }
  workgroupBarrier();
  if (tr == 0) { red[i] = ${merge('red[i]', `red[i + ${TC}]`)}; }
  workgroupBarrier();
  if (tr == 0 && sub == 0 && live) {
    var s = red[cc];
    for (var k = 1; k < uniforms.rpw; k = k + 1) {
      s = ${merge('s', 'red[cc + k * uniforms.tileC]')};
    }
    let out = ((b * uniforms.chunks + chunk) * ${spec.q}) * uniforms.nC + c;
${writes.map((w, q) => `    result[out + ${q} * uniforms.nC] = ${w};`).join('\n')}
  }
}
`;
}

/** Channel tiling of stage 1: 32 channels per tile, or all C < 32 with floor(32 / C) rows per warp. */
function tiling(C: number): { tileC: number; rpw: number; tiles: number } {
  if (C >= TC) return { tileC: TC, rpw: 1, tiles: Math.ceil(C / TC) };
  return { tileC: C, rpw: Math.floor(TC / C), tiles: 1 };
}

/**
 * Stage 1: per (b, chunk, c) partial results [B, chunks, Q, C] of `spec` over inputs whose big
 * arrays are laid out [B, N, C].
 */
export function partialReduce(spec: PartialSpec, inputs: tf.Tensor[], d: Dims, plan: ChunkPlan, extra: Uniform[] = []): tf.Tensor {
  const { tileC, rpw, tiles } = tiling(d.C);
  const q = spec.mode === 'welford' ? 2 : spec.q;
  const outputSize = d.B * plan.chunks * q * d.C;
  return runKernel(
    {
      key: `partial_${spec.mode}_${spec.name}_q${q}`,
      inputs: spec.inputs,
      outputSize,
      workgroupSize: [TC, TR, 1],
      workgroups: d.B * plan.chunks * tiles,
      uniforms: ROW_UNIFORMS + 'tileC : i32, rpw : i32,' + (spec.uniforms ?? ''),
      code: partialCode({ ...spec, q }),
    },
    inputs,
    [i32(d.B), i32(d.N), i32(d.C), i32(plan.chunkRows), i32(plan.chunks), i32(tiles), i32(tileC), i32(rpw), ...extra],
    [outputSize],
  );
}

function combineCode(mode: 'sum' | 'welford', q: number): string {
  const welford = mode === 'welford';
  const load = welford
    ? `
      let n = f32(min(uniforms.rows, uniforms.nN - k * uniforms.rows));
      acc = mt_chan(acc, vec4<f32>(n, partial[at], partial[at + uniforms.nC], 0.0));`
    : `
      acc = acc + vec4<f32>(${[0, 1, 2, 3].map((j) => (j < q ? `partial[at + ${j} * uniforms.nC]` : '0.0')).join(', ')});`;
  const merge = (a: string, b: string): string => (welford ? `mt_chan(${a}, ${b})` : `${a} + ${b}`);
  const store = welford
    ? `
      let out = (b * 2) * uniforms.nC + c;
      result[out] = s.y;
      result[out + uniforms.nC] = 1.0 / sqrt(s.z / f32(uniforms.nN) + uniforms.eps);`
    : `
      let out = (b * ${q}) * uniforms.nC + c;
${['x', 'y', 'z', 'w'].slice(0, q).map((k, j) => `      result[out + ${j} * uniforms.nC] = s.${k};`).join('\n')}`;
  const tree = [16, 8, 4, 2, 1]
    .map((s) => `  if (lane < ${s}) { red[i] = ${merge('red[i]', `red[i + ${s * CC}]`)}; }\n  workgroupBarrier();`)
    .join('\n');
  return `
${WORKGROUP_INDEX_WGSL}
${welford ? chanWgsl() : ''}
var<workgroup> red : array<vec4<f32>, ${CC * CL}>;
fn main(index : i32) {
  let wg = mt_workgroupIndex();
  let lc = i32(localId.x);
  let lane = i32(localId.y);
  let tiles = (uniforms.nC + ${CC - 1}) / ${CC};
  let c = (wg % tiles) * ${CC} + lc;
  let b = wg / tiles;
  let live = b < uniforms.nB && c < uniforms.nC;
  var acc = vec4<f32>(0.0);
  if (live) {
    for (var k = lane; k < uniforms.chunks; k = k + ${CL}) {
      let at = ((b * uniforms.chunks + k) * ${q}) * uniforms.nC + c;${load}
    }
  }
  let i = lane * ${CC} + lc;
  red[i] = acc;
  workgroupBarrier();
${tree}
  if (lane == 0 && live) {
    let s = red[lc];${store}
  }
}
`;
}

/**
 * Stage 2: folds the chunk partials [B, chunks, Q, C] into [B, Q, C] sums ('sum'), or into
 * [B, 2, C] = (mean, 1 / sqrt(M2 / N + eps)) ('welford').
 */
export function combineChunks(partial: tf.Tensor, mode: 'sum' | 'welford', q: number, d: Dims, plan: ChunkPlan, eps = 0): tf.Tensor {
  const tiles = Math.ceil(d.C / CC);
  const outputSize = d.B * q * d.C;
  return runKernel(
    {
      key: `combine_${mode}_q${q}`,
      inputs: ['partial'],
      outputSize,
      workgroupSize: [CC, CL, 1],
      workgroups: d.B * tiles,
      uniforms: ROW_UNIFORMS + 'eps : f32,',
      code: combineCode(mode, q),
    },
    [partial],
    [i32(d.B), i32(d.N), i32(d.C), i32(plan.chunkRows), i32(plan.chunks), i32(0), f32(eps)],
    [outputSize],
  );
}

/** Both stages of a 'sum' reduction: [B, Q, C]. */
export function reduceSums(spec: PartialSpec, inputs: tf.Tensor[], d: Dims, extra: Uniform[] = []): tf.Tensor {
  const plan = chunkPlan(d.N);
  const partial = partialReduce(spec, inputs, d, plan, extra);
  const sums = combineChunks(partial, 'sum', spec.q, d, plan);
  partial.dispose();
  return sums;
}

/** Per-column sums of a [rows, C] array: [C]. */
export function columnSums(x: tf.Tensor, rows: number, C: number): tf.Tensor {
  const spec: PartialSpec = { name: 'colsum', inputs: ['x'], mode: 'sum', q: 1, code: X_ELEM_WGSL };
  return reduceSums(spec, [x], { B: 1, N: rows, C });
}
