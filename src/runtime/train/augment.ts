import type { AugmentationSpec, Vec3 } from '../../graph/types.js';
import type { Prng } from '../rng.js';

/**
 * Training-time augmentation of one patch (image and label together, in place).
 *
 * This version implements nnU-Net's mirroring: each axis flipped independently with p = 0.5.
 * nnU-Net's other transforms (rotation, scaling, noise, blur, brightness, contrast, low resolution,
 * gamma) are not implemented yet; they would be applied before mirroring, in that order, here.
 */
export interface PatchAugmenter {
  apply(image: Float32Array, label: Uint8Array, shape: Vec3, rng: Prng): void;
}

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

/** Mirroring on each axis with probability `p` (nnU-Net: 0.5 on all three axes). */
export class MirrorAugmenter implements PatchAugmenter {
  private readonly axes: readonly number[];

  constructor(
    private readonly p = 0.5,
    axes: readonly number[] = [0, 1, 2],
  ) {
    this.axes = axes;
  }

  apply(image: Float32Array, label: Uint8Array, shape: Vec3, rng: Prng): void {
    const axes: [boolean, boolean, boolean] = [0, 1, 2].map((a) => this.axes.includes(a) && rng.next() < this.p) as [boolean, boolean, boolean];
    flipInPlace(image, shape, axes);
    flipInPlace(label, shape, axes);
  }
}

/**
 * The augmenter for an augmentation profile, plus the transforms it cannot apply yet (so the caller
 * can say so). Without a profile: nnU-Net's mirroring (p 0.5, all axes).
 */
export function augmenterFor(spec: AugmentationSpec | undefined): { augmenter: PatchAugmenter | null; unsupported: string[] } {
  if (!spec) return { augmenter: new MirrorAugmenter(0.5), unsupported: [] };
  const mirror = spec.transforms.find((t) => t.kind === 'mirror');
  const unsupported = spec.transforms.filter((t) => t.kind !== 'mirror' && t.p > 0).map((t) => t.kind);
  return { augmenter: mirror && mirror.p > 0 ? new MirrorAugmenter(mirror.p, mirror.axes ?? [0, 1, 2]) : null, unsupported };
}
