/**
 * Voxel-axis orientation, as nibabel computes it (`io_orientation`, `aff2axcodes`), and the exact
 * (permute-and-flip, never interpolating) reorientation between a file's stored voxel order and the
 * project's internal convention, the closest canonical RAS+ order (nibabel's `as_closest_canonical`):
 * array axis x (fastest) runs towards the subject's Right, y towards Anterior, z towards Superior.
 * See docs/data.md.
 */
import type { Vec3 } from '../../../graph/types.js';
import { type Affine, identityAffine } from './affine.js';

/** Per voxel axis (x, y, z): the world axis it runs along (0 = x/LR, 1 = y/PA, 2 = z/IS) and its sign. */
export type Orientation = [[number, 1 | -1], [number, 1 | -1], [number, 1 | -1]];

export const CANONICAL: Orientation = [
  [0, 1],
  [1, 1],
  [2, 1],
];

function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

function inverseTranspose(m: number[][]): number[][] {
  const d = det3(m);
  const c = (r: number, k: number): number => {
    const rs = [0, 1, 2].filter((i) => i !== r);
    const cs = [0, 1, 2].filter((i) => i !== k);
    const v = m[rs[0]][cs[0]] * m[rs[1]][cs[1]] - m[rs[0]][cs[1]] * m[rs[1]][cs[0]];
    return ((r + k) % 2 === 0 ? v : -v) / d;
  };
  return [0, 1, 2].map((r) => [0, 1, 2].map((k) => c(r, k)));
}

/**
 * nibabel's `io_orientation`: normalise the columns, take the nearest orthogonal matrix (polar factor;
 * nibabel uses the SVD, which gives the same matrix), then for voxel axes x, y, z in turn pick the world
 * axis with the largest absolute component and remove that world axis from later choices.
 */
export function ioOrientation(affine: Affine): Orientation {
  const M = [0, 1, 2].map((r) => [affine[r][0], affine[r][1], affine[r][2]]);
  const norms = [0, 1, 2].map((c) => Math.hypot(M[0][c], M[1][c], M[2][c]) || 1);
  let R = M.map((row) => row.map((v, c) => v / norms[c]));
  if (Math.abs(det3(R)) > 1e-9) {
    for (let it = 0; it < 50; it++) {
      const IT = inverseTranspose(R);
      const next = R.map((row, r) => row.map((v, c) => 0.5 * (v + IT[r][c])));
      let change = 0;
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) change = Math.max(change, Math.abs(next[r][c] - R[r][c]));
      R = next;
      if (change < 1e-14) break;
    }
  }
  const out: [number, 1 | -1][] = [];
  const used = [false, false, false];
  for (let ax = 0; ax < 3; ax++) {
    let best = -1;
    let bestAbs = -1;
    for (let w = 0; w < 3; w++) {
      if (used[w]) continue;
      const a = Math.abs(R[w][ax]);
      if (a > bestAbs) {
        bestAbs = a;
        best = w;
      }
    }
    used[best] = true;
    out.push([best, R[best][ax] < 0 ? -1 : 1]);
  }
  return out as Orientation;
}

const LABELS = [
  ['L', 'R'],
  ['P', 'A'],
  ['I', 'S'],
];

/** Orientation code like nibabel's `aff2axcodes`, e.g. `RAS`, `LPS`: the direction each voxel axis x, y, z runs towards. */
export function orientationCode(o: Orientation): string {
  return o.map(([w, s]) => LABELS[w][s > 0 ? 1 : 0]).join('');
}

export function isCanonical(o: Orientation): boolean {
  return o.every(([w, s], i) => w === i && s === 1);
}

/** The orientation that undoes `o` (maps the reoriented axes back to the original ones). */
export function inverseOrientation(o: Orientation): Orientation {
  const inv: [number, 1 | -1][] = [
    [0, 1],
    [0, 1],
    [0, 1],
  ];
  o.forEach(([w, s], i) => {
    inv[w] = [i, s];
  });
  return inv as Orientation;
}

/** Shape [z, y, x] after moving every voxel axis i to axis o[i]. */
export function reorientedShape(shape: Vec3, o: Orientation): Vec3 {
  const xyz = [shape[2], shape[1], shape[0]];
  const out = [0, 0, 0];
  o.forEach(([w], i) => {
    out[w] = xyz[i];
  });
  return [out[2], out[1], out[0]];
}

/** Spacing [z, y, x] permuted like the axes. */
export function reorientedSpacing(spacing: Vec3, o: Orientation): Vec3 {
  return reorientedShape(spacing, o);
}

/**
 * Permutes and flips a [z, y, x] array so that voxel axis i becomes axis o[i][0], reversed when
 * o[i][1] is -1. Returns the input itself when `o` is the identity.
 */
export function reorientArray<T extends Float32Array | Uint8Array>(data: T, shape: Vec3, o: Orientation): T {
  if (isCanonical(o)) return data;
  const sizes = [shape[2], shape[1], shape[0]];
  const strides = [1, shape[2], shape[2] * shape[1]];
  // for each output axis: the input stride per output step, and the input offset of output index 0
  const step = [0, 0, 0];
  let base = 0;
  o.forEach(([w, s], i) => {
    step[w] = s * strides[i];
    if (s < 0) base += (sizes[i] - 1) * strides[i];
  });
  const outShape = reorientedShape(shape, o);
  const [mz, my, mx] = outShape;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  let k = 0;
  for (let z = 0; z < mz; z++) {
    for (let y = 0; y < my; y++) {
      let src = base + z * step[2] + y * step[1];
      const sx = step[0];
      for (let x = 0; x < mx; x++, src += sx) out[k++] = data[src];
    }
  }
  return out;
}

/** Affine of the reoriented array: A · T, with T mapping new voxel indices to old ones. */
export function reorientedAffine(affine: Affine, shape: Vec3, o: Orientation): Affine {
  const sizes = [shape[2], shape[1], shape[0]];
  const T = identityAffine();
  for (let i = 0; i < 3; i++) T[i][i] = 0;
  o.forEach(([w, s], i) => {
    T[i][w] = s;
    T[i][3] = s < 0 ? sizes[i] - 1 : 0;
  });
  const out = identityAffine();
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) out[r][c] = affine[r][0] * T[0][c] + affine[r][1] * T[1][c] + affine[r][2] * T[2][c] + affine[r][3] * T[3][c];
  return out;
}
