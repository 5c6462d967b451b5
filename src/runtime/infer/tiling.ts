/**
 * Sliding-window tiling, as nnU-Net computes it (pure; no tfjs).
 *
 * - Per axis ceil((size - tile) / (step * tile)) + 1 tiles, evenly spaced from 0 to size - tile,
 *   positions rounded half to even (numpy's `np.round`, which nnU-Net uses).
 * - Images smaller than the tile on some axis are zero-padded to the tile, evenly with the extra
 *   voxel after (nnU-Net's `pad_nd_image`).
 */
import type { Vec3 } from '../../graph/types.js';

/** numpy's round: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Tile start positions along one axis (nnU-Net's compute_steps_for_sliding_window). */
export function tileStarts(size: number, tile: number, stepFraction: number): number[] {
  if (size < tile) throw new Error(`axis of size ${size} is smaller than the tile ${tile}; pad first`);
  if (!(stepFraction > 0 && stepFraction <= 1)) throw new Error(`step fraction must be in (0, 1], got ${stepFraction}`);
  const n = Math.ceil((size - tile) / (stepFraction * tile)) + 1;
  if (n === 1) return [0];
  const actual = (size - tile) / (n - 1);
  return Array.from({ length: n }, (_, i) => roundHalfEven(actual * i));
}

/** The shape after padding to at least the tile on every axis. */
export function paddedShape(shape: Vec3, tile: Vec3): Vec3 {
  return shape.map((s, a) => Math.max(s, tile[a])) as Vec3;
}

/** Every tile's start [z, y, x], z slowest (the order nnU-Net visits them). */
export function tilePositions(shape: Vec3, tile: Vec3, stepFraction: number): Vec3[] {
  const padded = paddedShape(shape, tile);
  const starts = [0, 1, 2].map((a) => tileStarts(padded[a], tile[a], stepFraction));
  const out: Vec3[] = [];
  for (const z of starts[0]) for (const y of starts[1]) for (const x of starts[2]) out.push([z, y, x]);
  return out;
}

export interface PaddedVolume {
  data: Float32Array;
  shape: Vec3;
  /** Where the original volume starts inside the padded one. */
  offset: Vec3;
}

/** Pads [z, y, x] with zeros to at least `tile` per axis, evenly (extra voxel after); no copy when it fits. */
export function padToTile(image: Float32Array, shape: Vec3, tile: Vec3): PaddedVolume {
  const padded = paddedShape(shape, tile);
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

/** Copies the tile at `pos` out of a padded volume into `out` at element `at`. */
export function copyTile(volume: PaddedVolume, pos: Vec3, tile: Vec3, out: Float32Array, at: number): void {
  const [tz, ty, tx] = tile;
  const P = volume.shape;
  for (let z = 0; z < tz; z++)
    for (let y = 0; y < ty; y++) {
      const src = ((pos[0] + z) * P[1] + pos[1] + y) * P[2] + pos[2];
      out.set(volume.data.subarray(src, src + tx), at + (z * ty + y) * tx);
    }
}

/** The unpadded region of a padded [z, y, x] array (a copy). */
export function cropPadding<T extends Float32Array | Uint8Array>(data: T, padded: Vec3, offset: Vec3, shape: Vec3): T {
  if (padded.every((s, a) => s === shape[a])) return data;
  const out = new (data.constructor as new (n: number) => T)(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[0]; z++)
    for (let y = 0; y < shape[1]; y++) {
      const src = ((z + offset[0]) * padded[1] + y + offset[1]) * padded[2] + offset[2];
      out.set(data.subarray(src, src + shape[2]), (z * shape[1] + y) * shape[2]);
    }
  return out;
}
