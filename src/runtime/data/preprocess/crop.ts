/** nnU-Net's first preprocessing step: crop to the bounding box of nonzero image voxels. */
import type { Vec3 } from '../../../graph/types.js';

export interface BoundingBox {
  /** Inclusive start and exclusive end per axis, [z, y, x]. */
  start: Vec3;
  end: Vec3;
}

/**
 * Bounding box of voxels != 0 (nnU-Net fills holes in that mask first, which never changes its box).
 * An all-zero image keeps its whole extent.
 */
export function nonzeroBoundingBox(data: ArrayLike<number>, shape: Vec3): BoundingBox {
  const [nz, ny, nx] = shape;
  let z0 = nz, y0 = ny, x0 = nx, z1 = -1, y1 = -1, x1 = -1;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      let first = -1;
      let last = -1;
      for (let x = 0; x < nx; x++) {
        if (data[row + x] !== 0) {
          if (first < 0) first = x;
          last = x;
        }
      }
      if (first < 0) continue;
      if (z < z0) z0 = z;
      if (z > z1) z1 = z;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
    }
  }
  if (z1 < 0) return { start: [0, 0, 0], end: [nz, ny, nx] };
  return { start: [z0, y0, x0], end: [z1 + 1, y1 + 1, x1 + 1] };
}

export function boxShape(box: BoundingBox): Vec3 {
  return [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
}

/** Copies the box out of a [z, y, x] array (same typed-array kind as the input). */
export function cropToBox<T extends Float32Array | Uint8Array>(data: T, shape: Vec3, box: BoundingBox): T {
  const [, ny, nx] = shape;
  const [cz, cy, cx] = boxShape(box);
  if (cz === shape[0] && cy === ny && cx === nx) return data;
  const out = new (data.constructor as new (n: number) => T)(cz * cy * cx);
  for (let z = 0; z < cz; z++) {
    for (let y = 0; y < cy; y++) {
      const src = ((z + box.start[0]) * ny + (y + box.start[1])) * nx + box.start[2];
      out.set(data.subarray(src, src + cx), (z * cy + y) * cx);
    }
  }
  return out;
}
