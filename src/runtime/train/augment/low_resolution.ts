/**
 * Low-resolution simulation (nnU-Net v2's SimulateLowResolutionTransform): the patch resized to
 * round(shape * zoom) by nearest neighbour (PyTorch's 'nearest-exact'), then back to its shape by
 * linear interpolation on each axis (trilinear, align_corners false). One zoom for all axes; z keeps
 * its size for anisotropic patches (dummy 2D).
 */
import type { Vec3 } from '../../../graph/types.js';
import { roundHalfEven } from '../sampler.js';
import { drawParameter } from './draw.js';
import type { PatchTransformImpl } from './types.js';

/** Nearest-exact resize of a [z, y, x] volume. */
export function resizeNearest(src: Float32Array, shape: Vec3, out: Vec3): Float32Array {
  const [Z, Y, X] = shape;
  const [oz, oy, ox] = out;
  const idx = (n: number, o: number) => Int32Array.from({ length: o }, (_, i) => Math.min(Math.floor((i + 0.5) * (n / o)), n - 1));
  const iz = idx(Z, oz);
  const iy = idx(Y, oy);
  const ix = idx(X, ox);
  const dst = new Float32Array(oz * oy * ox);
  let d = 0;
  for (let z = 0; z < oz; z++)
    for (let y = 0; y < oy; y++) {
      const row = (iz[z] * Y + iy[y]) * X;
      for (let x = 0; x < ox; x++) dst[d++] = src[row + ix[x]];
    }
  return dst;
}

/** Linear resize along one axis, PyTorch's align_corners=false rule (source clamped at 0 and n - 1). */
function resizeLinearAxis(src: Float32Array, shape: Vec3, axis: number, size: number): { data: Float32Array; shape: Vec3 } {
  const n = shape[axis];
  const outShape = [...shape] as Vec3;
  outShape[axis] = size;
  if (n === size) return { data: src, shape: outShape };
  const scale = n / size;
  const i0 = new Int32Array(size);
  const i1 = new Int32Array(size);
  const w = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const s = Math.max((i + 0.5) * scale - 0.5, 0);
    const lo = Math.min(Math.floor(s), n - 1);
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, n - 1);
    w[i] = s - lo;
  }
  const outer = axis === 0 ? 1 : axis === 1 ? shape[0] : shape[0] * shape[1];
  const inner = axis === 0 ? shape[1] * shape[2] : axis === 1 ? shape[2] : 1;
  const dst = new Float32Array(outer * size * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < size; i++) {
      const a = (o * n + i0[i]) * inner;
      const b = (o * n + i1[i]) * inner;
      const d = (o * size + i) * inner;
      const f = w[i];
      for (let q = 0; q < inner; q++) dst[d + q] = src[a + q] + f * (src[b + q] - src[a + q]);
    }
  return { data: dst, shape: outShape };
}

/** Trilinear resize (separably, axis by axis). */
export function resizeLinear(src: Float32Array, shape: Vec3, out: Vec3): Float32Array {
  let cur = { data: src, shape };
  for (let axis = 2; axis >= 0; axis--) cur = resizeLinearAxis(cur.data, cur.shape, axis, out[axis]);
  return cur.data;
}

export const lowResolution: PatchTransformImpl = {
  stage: 'intensity',
  apply(t, patch, rng, ctx) {
    const zoom = drawParameter(t, rng);
    const small = patch.shape.map((s, a) => (ctx.dummy2d && a === 0 ? s : Math.max(1, roundHalfEven(s * zoom)))) as Vec3;
    if (small.every((s, a) => s === patch.shape[a])) return true;
    const down = resizeNearest(patch.image, patch.shape, small);
    patch.image.set(resizeLinear(down, small, patch.shape));
    return true;
  },
};
