/**
 * NIfTI-1 voxel-to-world transforms: the nibabel choice of affine when reading (sform, else qform,
 * else the pixdim diagonal) and the quaternion decomposition needed to write a qform.
 *
 * An affine is a 4x4 row-major matrix mapping voxel indices (i, j, k) = (x, y, z) column vector
 * [i, j, k, 1] to world millimetres. NIfTI world space is RAS+ (x to the subject's Right, y Anterior,
 * z Superior).
 */

export type Affine = number[][];

export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/** Diagonal affine for spacing [z, y, x] (mm) and a world origin of voxel (0,0,0), [x, y, z] mm. */
export function diagonalAffine(spacingZyx: [number, number, number], originXyz: [number, number, number] = [0, 0, 0]): Affine {
  return [
    [spacingZyx[2], 0, 0, originXyz[0]],
    [0, spacingZyx[1], 0, originXyz[1]],
    [0, 0, spacingZyx[0], originXyz[2]],
    [0, 0, 0, 1],
  ];
}

export interface Quatern {
  b: number;
  c: number;
  d: number;
  /** pixdim[0]: -1 when the rotation part has a negative determinant (left-handed voxel axes). */
  qfac: 1 | -1;
  /** Voxel sizes pixdim[1..3] (x, y, z), all positive. */
  pixdim: [number, number, number];
  offset: [number, number, number];
}

/**
 * qform affine from the quaternion fields, as nibabel computes it: a = sqrt(1 - b² - c² - d²) (0 when
 * that is a rounding error below zero), rotation from the normalised quaternion, z voxel size times qfac.
 */
export function qformAffine(q: Quatern): Affine {
  const { b, c, d } = q;
  const w2 = 1 - (b * b + c * c + d * d);
  const a = w2 < 0 ? 0 : Math.sqrt(w2);
  const n = a * a + b * b + c * c + d * d;
  let R: number[][];
  if (n < 1e-12) {
    R = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
  } else {
    const s = 2 / n;
    const X = b * s;
    const Y = c * s;
    const Z = d * s;
    const wX = a * X;
    const wY = a * Y;
    const wZ = a * Z;
    const xX = b * X;
    const xY = b * Y;
    const xZ = b * Z;
    const yY = c * Y;
    const yZ = c * Z;
    const zZ = d * Z;
    R = [
      [1 - (yY + zZ), xY - wZ, xZ + wY],
      [xY + wZ, 1 - (xX + zZ), yZ - wX],
      [xZ - wY, yZ + wX, 1 - (xX + yY)],
    ];
  }
  const vox = [q.pixdim[0], q.pixdim[1], q.pixdim[2] * q.qfac];
  const out = identityAffine();
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) out[r][col] = R[r][col] * vox[col];
    out[r][3] = q.offset[r];
  }
  return out;
}

function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

function invTranspose3(m: number[][]): number[][] {
  const det = det3(m);
  const cof = (r: number, c: number): number => {
    const rows = [0, 1, 2].filter((i) => i !== r);
    const cols = [0, 1, 2].filter((i) => i !== c);
    const v = m[rows[0]][cols[0]] * m[rows[1]][cols[1]] - m[rows[0]][cols[1]] * m[rows[1]][cols[0]];
    return (r + c) % 2 === 0 ? v : -v;
  };
  // inverse = adj / det with adj = cofactor^T, so inverse^T = cofactor / det
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => cof(r, c) / det));
}

/**
 * Decomposes an affine into a qform (rotation quaternion, voxel sizes, qfac, offset) like nibabel's
 * `set_qform`: voxel sizes are the column norms, a negative determinant flips the z column (qfac -1),
 * and any shear is removed by taking the nearest rotation (polar decomposition), so the qform is
 * exact for rigid affines and the closest rigid approximation otherwise (the sform keeps the exact one).
 */
export function affineToQuatern(affine: Affine): Quatern {
  const M = [0, 1, 2].map((r) => [affine[r][0], affine[r][1], affine[r][2]]);
  const pix = [0, 1, 2].map((c) => Math.hypot(M[0][c], M[1][c], M[2][c]));
  if (pix.some((p) => !(p > 0) || !Number.isFinite(p))) {
    throw new Error(`affine has a zero or non-finite column: ${JSON.stringify(affine)}`);
  }
  let R = M.map((row) => row.map((v, c) => v / pix[c]));
  let qfac: 1 | -1 = 1;
  if (det3(R) < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) R[r][2] = -R[r][2];
  }
  for (let it = 0; it < 30; it++) {
    const IT = invTranspose3(R);
    const next = R.map((row, r) => row.map((v, c) => 0.5 * (v + IT[r][c])));
    let change = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) change = Math.max(change, Math.abs(next[r][c] - R[r][c]));
    R = next;
    if (change < 1e-12) break;
  }
  const [r11, r12, r13] = R[0];
  const [r21, r22, r23] = R[1];
  const [r31, r32, r33] = R[2];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return {
    b,
    c,
    d,
    qfac,
    pixdim: [pix[0], pix[1], pix[2]],
    offset: [affine[0][3], affine[1][3], affine[2][3]],
  };
}

/** Voxel sizes (column norms of the rotation-zoom part), ordered [z, y, x] like `Volume.spacing`. */
export function affineSpacingZyx(affine: Affine): [number, number, number] {
  const col = (c: number): number => Math.hypot(affine[0][c], affine[1][c], affine[2][c]);
  return [col(2), col(1), col(0)];
}

/** Largest absolute element-wise difference between two affines. */
export function affineMaxDiff(a: Affine, b: Affine): number {
  let m = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) m = Math.max(m, Math.abs(a[r][c] - b[r][c]));
  return m;
}
