/** Mirroring: each allowed axis flipped with probability p, image and label together. */
import type { Vec3 } from '../../../graph/types.js';
import type { PatchTransformImpl } from './types.js';

/** Reverses a C-ordered [z, y, x] volume along the chosen axes, in place. */
export function flipInPlace<T extends Float32Array | Uint8Array>(data: T, shape: Vec3, axes: readonly [boolean, boolean, boolean]): void {
  const [Z, Y, X] = shape;
  const [fz, fy, fx] = axes;
  if (fx) {
    for (let row = 0; row < Z * Y; row++) data.subarray(row * X, (row + 1) * X).reverse();
  }
  if (fy) {
    const tmp = data.slice(0, X) as T;
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < Math.floor(Y / 2); y++) {
        const a = (z * Y + y) * X;
        const b = (z * Y + (Y - 1 - y)) * X;
        tmp.set(data.subarray(a, a + X));
        data.copyWithin(a, b, b + X);
        data.set(tmp, b);
      }
    }
  }
  if (fz) {
    const plane = Y * X;
    const tmp = data.slice(0, plane) as T;
    for (let z = 0; z < Math.floor(Z / 2); z++) {
      const a = z * plane;
      const b = (Z - 1 - z) * plane;
      tmp.set(data.subarray(a, a + plane));
      data.copyWithin(a, b, b + plane);
      data.set(tmp, b);
    }
  }
}

export const mirror: PatchTransformImpl = {
  stage: 'mirror',
  apply(t, patch, rng) {
    const allowed = t.axes ?? [0, 1, 2];
    const axes = [0, 1, 2].map((a) => allowed.includes(a) && rng.next() < t.p) as [boolean, boolean, boolean];
    if (!axes.some(Boolean)) return false;
    flipInPlace(patch.image, patch.shape, axes);
    flipInPlace(patch.label, patch.shape, axes);
    return true;
  },
};
