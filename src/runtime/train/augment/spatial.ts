/**
 * The spatial transform's resampling: reads one patch out of the whole case through the sample's
 * rotation, scaling and elastic displacement (types.ts SpatialDraw), so that voxels of the case
 * around the patch fill it and no border artefacts appear. Images are interpolated trilinearly;
 * outside the case they are 0 (PyTorch grid_sample's zeros padding, scipy's 'grid-constant').
 * Labels are interpolated as one-hot maps and each voxel takes the label with the largest
 * interpolated weight (ties: the lowest label; outside the case counts as background 0), so a voxel
 * only ever holds a label of its neighbours, never a mix.
 */
import type { Vec3 } from '../../../graph/types.js';
import type { Patch, SpatialDraw } from './types.js';

/** What the spatial transform reads: a case's image and label arrays. */
export interface VolumeArrays {
  image: Float32Array;
  label: Uint8Array;
  shape: Vec3;
}

/** M = Rz(a2) Ry(a1) Rx(a0) diag(s), row-major (nnU-Net v2's create_affine_matrix_3d, axis order z, y, x). */
export function spatialMatrix(d: Pick<SpatialDraw, 'angles' | 'scales'>): number[] {
  const [a0, a1, a2] = d.angles;
  const mul = (A: number[], B: number[]): number[] => {
    const C = new Array<number>(9).fill(0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) C[i * 3 + j] += A[i * 3 + k] * B[k * 3 + j];
    return C;
  };
  const [c0, s0, c1, s1, c2, s2] = [Math.cos(a0), Math.sin(a0), Math.cos(a1), Math.sin(a1), Math.cos(a2), Math.sin(a2)];
  const Rx = [1, 0, 0, 0, c0, -s0, 0, s0, c0];
  const Ry = [c1, 0, s1, 0, 1, 0, -s1, 0, c1];
  const Rz = [c2, -s2, 0, s2, c2, 0, 0, 0, 1];
  const S = [d.scales[0], 0, 0, 0, d.scales[1], 0, 0, 0, d.scales[2]];
  return mul(mul(mul(Rz, Ry), Rx), S);
}

function fieldMean(f: Float32Array | null): number {
  if (!f) return 0;
  let s = 0;
  for (let i = 0; i < f.length; i++) s += f[i];
  return s / f.length;
}

/**
 * Patch `patch` of `src` centred on `centre` (continuous voxel coordinates of the case) through the
 * draw: patch voxel i reads the case at M (i - (patch - 1) / 2 + d(i) - mean(d)) + centre.
 */
export function samplePatch(src: VolumeArrays, centre: readonly number[], draw: SpatialDraw, patch: Vec3): Patch {
  const [pz, py, px] = patch;
  const [Z, Y, X] = src.shape;
  const M = spatialMatrix(draw);
  const disp = draw.displacement;
  const planar = disp !== null && [disp[1], disp[2]].some((f) => f !== null && f.length === py * px);
  const means = disp ? disp.map(fieldMean) : [0, 0, 0];
  const n = pz * py * px;
  const image = new Float32Array(n);
  const label = new Uint8Array(n);
  const srcImage = src.image;
  const srcLabel = src.label;
  const plane = Y * X;
  const labs = new Int32Array(8);
  const wts = new Float64Array(8);
  let o = 0;
  for (let z = 0; z < pz; z++) {
    for (let y = 0; y < py; y++) {
      // Source coordinates of the row's first voxel; along the row they step by M's x column.
      const rz = z - (pz - 1) / 2;
      const ry = y - (py - 1) / 2;
      const rx = -(px - 1) / 2;
      let sz = M[0] * rz + M[1] * ry + M[2] * rx + centre[0] - M[2];
      let sy = M[3] * rz + M[4] * ry + M[5] * rx + centre[1] - M[5];
      let sx = M[6] * rz + M[7] * ry + M[8] * rx + centre[2] - M[8];
      for (let x = 0; x < px; x++, o++) {
        sz += M[2];
        sy += M[5];
        sx += M[8];
        if (disp) {
          const vx = x - (px - 1) / 2;
          const f = planar ? y * px + x : o;
          const vz = rz + (disp[0] ? disp[0][o] - means[0] : 0);
          const vy = ry + (disp[1] ? disp[1][f] - means[1] : 0);
          const wx = vx + (disp[2] ? disp[2][f] - means[2] : 0);
          sz = M[0] * vz + M[1] * vy + M[2] * wx + centre[0];
          sy = M[3] * vz + M[4] * vy + M[5] * wx + centre[1];
          sx = M[6] * vz + M[7] * vy + M[8] * wx + centre[2];
        }
        const z0 = Math.floor(sz);
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const fz = sz - z0;
        const fy = sy - y0;
        const fx = sx - x0;
        if (z0 >= 0 && y0 >= 0 && x0 >= 0 && z0 + 1 < Z && y0 + 1 < Y && x0 + 1 < X) {
          const b = z0 * plane + y0 * X + x0;
          const c000 = b, c001 = b + 1, c010 = b + X, c011 = b + X + 1;
          const c100 = b + plane, c101 = b + plane + 1, c110 = b + plane + X, c111 = b + plane + X + 1;
          const w000 = (1 - fz) * (1 - fy) * (1 - fx), w001 = (1 - fz) * (1 - fy) * fx;
          const w010 = (1 - fz) * fy * (1 - fx), w011 = (1 - fz) * fy * fx;
          const w100 = fz * (1 - fy) * (1 - fx), w101 = fz * (1 - fy) * fx;
          const w110 = fz * fy * (1 - fx), w111 = fz * fy * fx;
          image[o] =
            w000 * srcImage[c000] + w001 * srcImage[c001] + w010 * srcImage[c010] + w011 * srcImage[c011] +
            w100 * srcImage[c100] + w101 * srcImage[c101] + w110 * srcImage[c110] + w111 * srcImage[c111];
          const l = srcLabel[c000];
          if (
            srcLabel[c001] === l && srcLabel[c010] === l && srcLabel[c011] === l &&
            srcLabel[c100] === l && srcLabel[c101] === l && srcLabel[c110] === l && srcLabel[c111] === l
          ) {
            label[o] = l;
          } else {
            labs[0] = l; labs[1] = srcLabel[c001]; labs[2] = srcLabel[c010]; labs[3] = srcLabel[c011];
            labs[4] = srcLabel[c100]; labs[5] = srcLabel[c101]; labs[6] = srcLabel[c110]; labs[7] = srcLabel[c111];
            wts[0] = w000; wts[1] = w001; wts[2] = w010; wts[3] = w011; wts[4] = w100; wts[5] = w101; wts[6] = w110; wts[7] = w111;
            label[o] = majorityLabel(labs, wts);
          }
        } else {
          // Near or outside the case: neighbours outside are image 0 and label 0.
          let v = 0;
          for (let k = 0; k < 8; k++) {
            const dz = k >> 2, dy = (k >> 1) & 1, dx = k & 1;
            const zz = z0 + dz, yy = y0 + dy, xx = x0 + dx;
            const w = (dz ? fz : 1 - fz) * (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx);
            wts[k] = w;
            if (zz >= 0 && yy >= 0 && xx >= 0 && zz < Z && yy < Y && xx < X) {
              const i = zz * plane + yy * X + xx;
              v += w * srcImage[i];
              labs[k] = srcLabel[i];
            } else labs[k] = 0;
          }
          image[o] = v;
          label[o] = majorityLabel(labs, wts);
        }
      }
    }
  }
  return { image, label, shape: [pz, py, px] };
}

/** The label whose neighbours carry the largest total weight; ties go to the lowest label. */
function majorityLabel(labs: Int32Array, wts: Float64Array): number {
  let best = 0;
  let bestW = -1;
  for (let a = 0; a < 8; a++) {
    const l = labs[a];
    let seen = false;
    for (let b = 0; b < a; b++) {
      if (labs[b] === l) {
        seen = true;
        break;
      }
    }
    if (seen) continue;
    let w = wts[a];
    for (let b = a + 1; b < 8; b++) if (labs[b] === l) w += wts[b];
    if (w > bestW || (w === bestW && l < best)) {
      best = l;
      bestW = w;
    }
  }
  return best;
}
