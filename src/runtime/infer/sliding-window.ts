import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec, InferenceSpec, Vec3 } from '../../graph/types.js';
import { type AccumulationPlan, ProbabilityAccumulator, planAccumulation } from './accumulator.js';
import { gaussianImportance, uniformImportance } from './gaussian.js';
import { copyTile, cropPadding, padToTile, tilePositions } from './tiling.js';

/**
 * nnU-Net's sliding-window prediction over one or several networks (folds), in the preprocessed grid.
 *
 * - Tiles of the networks' patch, step `stepFraction` of the patch (tiling.ts); the image is
 *   zero-padded where it is smaller than the patch.
 * - Each tile and network: the output activation per tile (a sigmoid per class, MultiTalent's; or a
 *   softmax over the output channels), averaged over the mirrorings when `mirror` is set (every
 *   combination of `mirrorAxes`, 8 for all three axes; each prediction flipped back), then accumulated with the Gaussian importance map (sigma = tile / 8)
 *   or uniform weights; folds are averaged the same way (every fold sees every tile).
 * - Memory: the accumulators follow `planAccumulation` under `memoryBytes`; when even 16-bit
 *   accumulators for every class do not fit, the classes are predicted in groups, one pass each.
 * Results are handed to `onGroup` one group at a time (probabilities [z, y, x] like the input, a fresh
 * array per class), so that a caller can export and drop them before the next group.
 */

export type OutputActivation = 'sigmoid' | 'softmax';

/** What the predictor needs of a network. The U-Net implements it. */
export interface PredictorNetwork {
  readonly architecture: ArchitectureSpec;
  readonly heads: HeadSpec[];
  /** Logits [B, z, y, x, heads] of input [B, z, y, x, 1]; call inside tf.tidy. */
  apply(x: tf.Tensor5D): tf.Tensor5D;
}

export interface SlidingWindowOptions extends InferenceSpec {
  /**
   * With `mirror`: the axes (0 = z, 1 = y, 2 = x) to mirror over, every combination of them (nnU-Net's
   * `allowed_mirroring_axes`: the axes the training augmentation mirrored). Default all three (8 passes).
   */
  mirrorAxes?: number[];
  /** Output channels to return (default: all). */
  heads?: number[];
  /** Output activation (default sigmoid). */
  activation?: OutputActivation;
  /** Tiles per forward pass (default 1). */
  tilesPerBatch?: number;
  /** Memory budget for the accumulators and `fixedBytes` (default: unbounded). */
  memoryBytes?: number;
  /** Bytes the caller holds besides the accumulators (counted against `memoryBytes`). */
  fixedBytes?: number;
  signal?: AbortSignal;
  /** Stop after the first `maxTiles` tiles (benchmarks: time part of a large case). */
  maxTiles?: number;
  /** Forward passes done / total (tiles x networks x class groups). */
  onProgress?: (done: number, total: number) => void;
}

export interface ProbabilityGroup {
  /** Output channels of this group, in the requested order. */
  heads: number[];
  /** Probabilities of `heads[k]`, [z, y, x] like the input. */
  probabilities: Float32Array[];
}

export interface SlidingWindowReport {
  plan: AccumulationPlan;
  /** Tiles that cover the image, and how many were predicted (fewer only with `maxTiles`). */
  tiles: number;
  tilesPredicted: number;
  forwardPasses: number;
}

/** The 8 mirrorings (subsets of the spatial axes 1..3 of an NDHWC tensor), identity first. */
export const MIRROR_AXES: number[][] = [[], [3], [2], [1], [2, 3], [1, 3], [1, 2], [1, 2, 3]];

/** The mirrorings over some data axes (0 = z, 1 = y, 2 = x): every subset, as NDHWC tensor axes. */
export function mirrorings(axes: readonly number[]): number[][] {
  const tensorAxes = new Set(axes.map((a) => a + 1));
  return MIRROR_AXES.filter((m) => m.every((a) => tensorAxes.has(a)));
}

function activate(logits: tf.Tensor5D, activation: OutputActivation): tf.Tensor5D {
  return activation === 'softmax' ? (tf.softmax(logits, -1) as tf.Tensor5D) : (tf.sigmoid(logits) as tf.Tensor5D);
}

/** Probabilities of a batch of tiles [n, tz, ty, tx, 1] -> [n, tz, ty, tx, selected], mirror-averaged if asked. */
async function predictTiles(
  network: PredictorNetwork,
  tiles: tf.Tensor5D,
  mirrors: readonly number[][],
  activation: OutputActivation,
  select: tf.Tensor1D | null,
): Promise<Float32Array> {
  const probs = tf.tidy(() => {
    const one = (input: tf.Tensor5D): tf.Tensor5D => {
      const p = activate(network.apply(input), activation);
      return select ? (tf.gather(p, select, 4) as tf.Tensor5D) : p;
    };
    if (mirrors.length <= 1) return one(tiles);
    let acc: tf.Tensor | null = null;
    for (const axes of mirrors) {
      let p = one(axes.length > 0 ? (tf.reverse(tiles, axes) as tf.Tensor5D) : tiles);
      if (axes.length > 0) p = tf.reverse(p, axes);
      acc = acc ? tf.add(acc, p) : p;
    }
    return tf.div(acc as tf.Tensor, mirrors.length);
  });
  try {
    return (await probs.data()) as Float32Array;
  } finally {
    probs.dispose();
  }
}

/** Checks that the networks agree on patch and heads (folds of one model). */
function checkNetworks(networks: readonly PredictorNetwork[]): void {
  if (networks.length === 0) throw new Error('sliding window: needs at least one network');
  const [first] = networks;
  const heads = JSON.stringify(first.heads.map((h) => [h.dataset, h.name]));
  for (const n of networks.slice(1)) {
    if (n.architecture.patch.join(',') !== first.architecture.patch.join(',')) {
      throw new Error(`the folds disagree on the patch ([${first.architecture.patch.join(', ')}] vs [${n.architecture.patch.join(', ')}]); they are not folds of one model`);
    }
    if (JSON.stringify(n.heads.map((h) => [h.dataset, h.name])) !== heads) {
      throw new Error('the folds disagree on their output classes; they are not folds of one model');
    }
  }
}

/** Runs the sliding window; see the module doc. Resolves once every group has been handed over. */
export async function slidingWindow(
  networks: readonly PredictorNetwork[],
  image: Float32Array,
  shape: Vec3,
  opts: SlidingWindowOptions,
  onGroup: (group: ProbabilityGroup) => Promise<void> | void,
): Promise<SlidingWindowReport> {
  checkNetworks(networks);
  const tile = networks[0].architecture.patch;
  const expected = shape[0] * shape[1] * shape[2];
  if (image.length !== expected) throw new Error(`image has ${image.length} voxels, shape [${shape.join(', ')}] needs ${expected}`);
  const channels = networks[0].heads.length;
  const heads = opts.heads ?? Array.from({ length: channels }, (_, i) => i);
  for (const h of heads) if (!(Number.isInteger(h) && h >= 0 && h < channels)) throw new Error(`head index ${h} out of range (the model has ${channels})`);
  if (heads.length === 0) throw new Error('sliding window: no output channel selected');
  const activation = opts.activation ?? 'sigmoid';
  const mirrors = opts.mirror ? mirrorings(opts.mirrorAxes ?? [0, 1, 2]) : [[]];
  const tilesPerBatch = Math.max(1, opts.tilesPerBatch ?? 1);

  const padded = padToTile(image, shape, tile);
  const P = padded.shape;
  const nPad = P[0] * P[1] * P[2];
  const allPositions = tilePositions(shape, tile, opts.stepFraction);
  const positions = opts.maxTiles !== undefined ? allPositions.slice(0, Math.max(1, opts.maxTiles)) : allPositions;
  const [tz, ty, tx] = tile;
  const tileVox = tz * ty * tx;
  const weight = opts.gaussian ? gaussianImportance(tile) : uniformImportance(tile);
  const paddingBytes = padded.data === image ? 0 : nPad * 4;
  const plan = planAccumulation(heads.length, nPad, opts.memoryBytes ?? Number.MAX_SAFE_INTEGER, (opts.fixedBytes ?? 0) + nPad * 4 + paddingBytes);
  const total = positions.length * networks.length * plan.groups.length;
  let done = 0;
  opts.onProgress?.(0, total);
  const rows = new Int32Array(tz * ty);

  for (const group of plan.groups) {
    const groupHeads = group.map((k) => heads[k]);
    const identity = groupHeads.length === channels && groupHeads.every((h, i) => h === i);
    const select = identity ? null : tf.tensor1d(groupHeads, 'int32');
    let acc: ProbabilityAccumulator | null = new ProbabilityAccumulator(groupHeads.length, nPad, plan.precision);
    try {
      for (let first = 0; first < positions.length; first += tilesPerBatch) {
        const batch = positions.slice(first, first + tilesPerBatch);
        const buf = new Float32Array(batch.length * tileVox);
        batch.forEach((pos, t) => copyTile(padded, pos, tile, buf, t * tileVox));
        const input = tf.tensor5d(buf, [batch.length, tz, ty, tx, 1]);
        try {
          for (const network of networks) {
            opts.signal?.throwIfAborted();
            const probs = await predictTiles(network, input, mirrors, activation, select);
            batch.forEach((pos, t) => {
              for (let z = 0; z < tz; z++) for (let y = 0; y < ty; y++) rows[z * ty + y] = ((pos[0] + z) * P[1] + pos[1] + y) * P[2] + pos[2];
              acc!.addTile(probs, t * tileVox * groupHeads.length, weight, rows, tx);
            });
            done += batch.length;
            opts.onProgress?.(done, total);
            // Yield to the event loop: renderers draw, and the native kernels' output buffers, whose
            // finalizers Node defers to the macrotask queue, are returned before the next forward pass.
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        } finally {
          input.dispose();
        }
      }
    } finally {
      select?.dispose();
    }
    const probabilities = groupHeads.map((_, k) => cropPadding(acc!.result(k), P, padded.offset, shape));
    acc = null;
    await onGroup({ heads: groupHeads, probabilities });
  }
  return { plan, tiles: allPositions.length, tilesPredicted: positions.length, forwardPasses: total };
}

/** All requested channels' probabilities at once (small volumes, tests, evaluation). */
export async function slidingWindowPredict(
  network: PredictorNetwork | readonly PredictorNetwork[],
  image: Float32Array,
  shape: Vec3,
  opts: SlidingWindowOptions,
): Promise<Float32Array[]> {
  const networks = Array.isArray(network) ? (network as readonly PredictorNetwork[]) : [network as PredictorNetwork];
  const channels = networks[0].heads.length;
  const heads = opts.heads ?? Array.from({ length: channels }, (_, i) => i);
  const out: Float32Array[] = new Array(heads.length);
  let next = 0;
  await slidingWindow(networks, image, shape, opts, (g) => {
    for (const p of g.probabilities) out[next++] = p;
  });
  return out;
}

/** Independent per-class thresholding (regions may overlap): 1 where p > threshold. */
export function threshold(probs: Float32Array, t = 0.5): Uint8Array {
  const out = new Uint8Array(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = probs[i] > t ? 1 : 0;
  return out;
}
