import * as tf from '@tensorflow/tfjs';
import type { InferenceSpec, Vec3 } from '../../graph/types.js';
import type { UNet } from '../model/unet.js';

/**
 * nnU-Net sliding-window inference for sigmoid (region) outputs, and for softmax outputs (probabilities
 * aggregated, as nnU-Net v1 does, then argmax by the caller).
 *
 * - Tiles of the model's patch size; per axis ceil((size - tile) / (step * tile)) + 1 tiles, evenly
 *   spaced from 0 to size - tile; images smaller than the tile are zero-padded (evenly, both sides).
 * - Each tile: sigmoid per head, or softmax over all channels (optionally averaged over the 8 mirrorings, each prediction flipped
 *   back), accumulated as prob * g and g with g the Gaussian importance map (sigma = tile / 8,
 *   centred, scaled to max 1, no zeros) or 1 everywhere; the result is their ratio.
 * - Returns one probability volume per requested head, [z, y, x] C-ordered like the input.
 */

export interface SlidingWindowOptions extends InferenceSpec {
  /** Output-channel indices to return (default: all heads). */
  heads?: number[];
  /**
   * How a tile's logits become probabilities: an independent sigmoid per channel (default), or one
   * softmax over all channels (a softmax output layout, graph/outputs.ts), taken before `heads` picks.
   */
  activation?: 'sigmoid' | 'softmax';
  /** Tiles per forward pass. */
  tilesPerBatch?: number;
  signal?: AbortSignal;
}

/** Tile start positions along one axis (nnU-Net's compute_steps_for_sliding_window). */
export function tileStarts(size: number, tile: number, stepFraction: number): number[] {
  if (size < tile) throw new Error(`axis of size ${size} is smaller than the tile ${tile}; pad first`);
  if (!(stepFraction > 0 && stepFraction <= 1)) throw new Error(`step fraction must be in (0, 1], got ${stepFraction}`);
  const n = Math.ceil((size - tile) / (stepFraction * tile)) + 1;
  if (n === 1) return [0];
  const actual = (size - tile) / (n - 1);
  return Array.from({ length: n }, (_, i) => Math.round(actual * i));
}

/** Gaussian importance map [z, y, x] with sigma = tile / 8 per axis, max 1, smallest value > 0. */
export function gaussianImportance(tile: Vec3): Float32Array {
  const axes = tile.map((t) => {
    const sigma = t / 8;
    const c = (t - 1) / 2;
    return Float64Array.from({ length: t }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  });
  const [tz, ty, tx] = tile;
  const out = new Float32Array(tz * ty * tx);
  let minPositive = Infinity;
  for (let z = 0; z < tz; z++)
    for (let y = 0; y < ty; y++)
      for (let x = 0; x < tx; x++) {
        const v = axes[0][z] * axes[1][y] * axes[2][x];
        out[(z * ty + y) * tx + x] = v;
        if (v > 0 && v < minPositive) minPositive = v;
      }
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = minPositive;
  return out;
}

/** The 8 mirrorings (subsets of the spatial axes 1..3 of an NDHWC tensor), identity first. */
export const MIRROR_AXES: number[][] = [[], [3], [2], [1], [2, 3], [1, 3], [1, 2], [1, 2, 3]];

/** Pads [z, y, x] to at least `minShape`, evenly on both sides (extra voxel after). */
function padVolume(image: Float32Array, shape: Vec3, minShape: Vec3): { data: Float32Array; shape: Vec3; offset: Vec3 } {
  const padded = shape.map((s, a) => Math.max(s, minShape[a])) as Vec3;
  if (padded.every((s, a) => s === shape[a])) return { data: image, shape, offset: [0, 0, 0] };
  const offset = shape.map((s, a) => Math.floor((padded[a] - s) / 2)) as Vec3;
  const data = new Float32Array(padded[0] * padded[1] * padded[2]);
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++) {
      const src = (z * shape[1] + y) * shape[2];
      const dst = ((z + offset[0]) * padded[1] + y + offset[1]) * padded[2] + offset[2];
      data.set(image.subarray(src, src + shape[2]), dst);
    }
  return { data, shape: padded, offset };
}

/** Probabilities of a batch of tiles [n, tz, ty, tx, 1] -> [n, tz, ty, tx, heads], mirror-averaged if asked. */
async function predictTiles(model: UNet, tiles: tf.Tensor5D, mirror: boolean, headIdx: tf.Tensor1D | null, activation: 'sigmoid' | 'softmax'): Promise<Float32Array> {
  const probs = tf.tidy(() => {
    const pick = (t: tf.Tensor5D): tf.Tensor5D => (headIdx ? (tf.gather(t, headIdx, 4) as tf.Tensor5D) : t);
    const probsOf = (logits: tf.Tensor5D): tf.Tensor5D => (activation === 'softmax' ? pick(tf.softmax(logits)) : tf.sigmoid(pick(logits)));
    if (!mirror) return probsOf(model.apply(tiles));
    let acc: tf.Tensor | null = null;
    for (const axes of MIRROR_AXES) {
      const input = axes.length > 0 ? (tf.reverse(tiles, axes) as tf.Tensor5D) : tiles;
      let p = probsOf(model.apply(input));
      if (axes.length > 0) p = tf.reverse(p, axes);
      acc = acc ? tf.add(acc, p) : p;
    }
    return tf.div(acc as tf.Tensor, MIRROR_AXES.length);
  });
  try {
    return (await probs.data()) as Float32Array;
  } finally {
    probs.dispose();
  }
}

export async function slidingWindowPredict(model: UNet, image: Float32Array, shape: Vec3, opts: SlidingWindowOptions): Promise<Float32Array[]> {
  const tile = model.architecture.patch;
  const expected = shape[0] * shape[1] * shape[2];
  if (image.length !== expected) throw new Error(`image has ${image.length} voxels, shape [${shape.join(', ')}] needs ${expected}`);
  const heads = opts.heads ?? model.heads.map((_, i) => i);
  for (const h of heads) if (!(h >= 0 && h < model.heads.length)) throw new Error(`head index ${h} out of range`);
  const H = heads.length;
  const tilesPerBatch = Math.max(1, opts.tilesPerBatch ?? 1);

  const padded = padVolume(image, shape, tile);
  const P = padded.shape;
  const starts = [0, 1, 2].map((a) => tileStarts(P[a], tile[a], opts.stepFraction));
  const positions: Vec3[] = [];
  for (const z of starts[0]) for (const y of starts[1]) for (const x of starts[2]) positions.push([z, y, x]);

  const [tz, ty, tx] = tile;
  const tileVox = tz * ty * tx;
  const weight = opts.gaussian ? gaussianImportance(tile) : new Float32Array(tileVox).fill(1);
  const nPad = P[0] * P[1] * P[2];
  const acc = Array.from({ length: H }, () => new Float32Array(nPad));
  const norm = new Float32Array(nPad);
  const headIdx = H === model.heads.length && heads.every((h, i) => h === i) ? null : tf.tensor1d(heads, 'int32');

  try {
    for (let first = 0; first < positions.length; first += tilesPerBatch) {
      opts.signal?.throwIfAborted();
      const group = positions.slice(first, first + tilesPerBatch);
      const buf = new Float32Array(group.length * tileVox);
      group.forEach((pos, t) => {
        for (let z = 0; z < tz; z++)
          for (let y = 0; y < ty; y++) {
            const src = ((pos[0] + z) * P[1] + pos[1] + y) * P[2] + pos[2];
            buf.set(padded.data.subarray(src, src + tx), t * tileVox + (z * ty + y) * tx);
          }
      });
      const input = tf.tensor5d(buf, [group.length, tz, ty, tx, 1]);
      let probs: Float32Array;
      try {
        probs = await predictTiles(model, input, opts.mirror, headIdx, opts.activation ?? 'sigmoid');
      } finally {
        input.dispose();
      }
      group.forEach((pos, t) => {
        for (let z = 0; z < tz; z++)
          for (let y = 0; y < ty; y++) {
            const row = ((pos[0] + z) * P[1] + pos[1] + y) * P[2] + pos[2];
            for (let x = 0; x < tx; x++) {
              const local = (z * ty + y) * tx + x;
              const g = weight[local];
              const src = (t * tileVox + local) * H;
              norm[row + x] += g;
              for (let h = 0; h < H; h++) acc[h][row + x] += probs[src + h] * g;
            }
          }
      });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    headIdx?.dispose();
  }

  // Divide and crop the padding away.
  return acc.map((a) => {
    const out = new Float32Array(expected);
    const [oz, oy, ox] = padded.offset;
    for (let z = 0; z < shape[0]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[2]; x++) {
          const p = ((z + oz) * P[1] + y + oy) * P[2] + x + ox;
          out[(z * shape[1] + y) * shape[2] + x] = a[p] / norm[p];
        }
    return out;
  });
}

/** Independent per-class thresholding (regions may overlap): 1 where p > threshold. */
export function threshold(probs: Float32Array, t = 0.5): Uint8Array {
  const out = new Uint8Array(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = probs[i] > t ? 1 : 0;
  return out;
}
