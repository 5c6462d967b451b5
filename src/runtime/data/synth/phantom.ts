/**
 * The synthetic abdomen behind the quickstart collection: random anatomy (`sampleAnatomy`) and its
 * rendering into a tissue map and a CT image in HU (`renderPhantom`).
 *
 * World space is RAS+ millimetres (x to the subject's Right, y Anterior, z Superior) with the volume
 * centre at the origin; voxel axes are aligned with it (diagonal affine, positive spacing), so the
 * stored orientation is RAS. The body is a scaled-down abdomen (it must fit a 150-190 mm field of
 * view), organ sizes scale with it.
 */
import type { Vec3 } from '../../../graph/types.js';
import { type Affine, diagonalAffine } from '../nifti/affine.js';
import { type Rng, gaussianNoise, uniform } from '../../rng.js';

/** Tissue classes of the phantom: what each voxel is, whatever a protocol annotates. */
export const Tissue = {
  AIR: 0,
  FAT: 1,
  SOFT: 2,
  MUSCLE: 3,
  CORTICAL_BONE: 4,
  CANCELLOUS_BONE: 5,
  SPINAL_CANAL: 6,
  DISC: 7,
  AORTA: 8,
  LIVER: 9,
  LIVER_TUMOUR: 10,
  SPLEEN: 11,
  KIDNEY_CORTEX: 12,
  KIDNEY_MEDULLA: 13,
  KIDNEY_TUMOUR: 14,
} as const;
export const TISSUE_COUNT = 15;

type Xyz = [number, number, number];

/** Smooth random displacement: a sum of plane waves, each pushing along its own direction. */
export interface Warp {
  terms: { k: Xyz; phase: number; amp: Xyz }[];
}

/** A deformed, rotated (about z) ellipsoid. */
export interface Blob {
  center: Xyz;
  semi: Xyz;
  /** Rotation about the z axis, radians. */
  angle: number;
  warp: Warp;
}

export interface Anatomy {
  shape: Vec3;
  spacing: Vec3;
  /** World position (x, y, z mm) of voxel (0, 0, 0). */
  origin: Xyz;
  body: { ax: number; ay: number; fat: number; wobbleAmp: number; wobbleK: number; wobblePhase: number };
  spine: { y: number; radius: number; canalRadius: number; canalY: number; discPeriod: number; discPhase: number; discFraction: number };
  muscles: Blob[];
  aorta: { x: number; y: number; radius: number; wiggleAmp: number; wiggleK: number; wigglePhase: number };
  liver: Blob;
  liverTumours: Blob[];
  spleen: Blob;
  kidneys: Blob[];
  kidneyTumours: Blob[];
  /** World z (mm) of the kidneys' centres (mean): where a partial aorta protocol stops annotating. */
  kidneyLevelZ: number;
  /** Mean HU per tissue (index = Tissue value). */
  hu: number[];
  noiseStd: number;
  /** Low-frequency intensity variation (HU amplitude) and its wave numbers per axis. */
  texture: { amp: number; k: Xyz; phase: Xyz };
}

export interface AnatomyOptions {
  /** Multiplies the sampled voxel spacing (1 = realistic quickstart; 2 = 8x fewer voxels for tests). */
  spacingScale?: number;
  /** Whether the case has liver tumours / kidney tumours (the caller decides, so that most cases do). */
  liverTumours: boolean;
  kidneyTumours: boolean;
}

function randomWarp(rng: Rng, semi: Xyz, strength: number): Warp {
  const terms: Warp['terms'] = [];
  const minSemi = Math.min(...semi);
  for (let t = 0; t < 2; t++) {
    const wavelength = uniform(rng, 1.5, 3) * minSemi;
    const theta = uniform(rng, 0, Math.PI);
    const phi = uniform(rng, 0, 2 * Math.PI);
    const dir: Xyz = [Math.sin(theta) * Math.cos(phi), Math.sin(theta) * Math.sin(phi), Math.cos(theta)];
    const kMag = (2 * Math.PI) / wavelength;
    const push = uniform(rng, 0.5, 1) * strength * minSemi;
    const a = uniform(rng, 0, Math.PI);
    const b = uniform(rng, 0, 2 * Math.PI);
    const pushDir: Xyz = [Math.sin(a) * Math.cos(b), Math.sin(a) * Math.sin(b), Math.cos(a)];
    terms.push({ k: [dir[0] * kMag, dir[1] * kMag, dir[2] * kMag], phase: uniform(rng, 0, 2 * Math.PI), amp: [pushDir[0] * push, pushDir[1] * push, pushDir[2] * push] });
  }
  return { terms };
}

function blob(rng: Rng, center: Xyz, semi: Xyz, angle: number, warpStrength: number): Blob {
  return { center, semi, angle, warp: randomWarp(rng, semi, warpStrength) };
}

/** Samples one case's anatomy, intensities and grid. All randomness comes from `rng`. */
export function sampleAnatomy(rng: Rng, options: AnatomyOptions): Anatomy {
  const scale = options.spacingScale ?? 1;
  const fov: Xyz = [uniform(rng, 150, 190), uniform(rng, 150, 190), uniform(rng, 150, 190)];
  const inPlane = uniform(rng, 1.5, 2.5) * scale;
  const spacingXyz: Xyz = [inPlane, inPlane, uniform(rng, 2.0, 4.0) * scale];
  const n = fov.map((f, i) => Math.max(8, Math.round(f / spacingXyz[i]))) as Xyz;
  const origin = n.map((k, i) => (-(k - 1) / 2) * spacingXyz[i]) as Xyz;
  const halfX = ((n[0] - 1) / 2) * spacingXyz[0];
  const halfY = ((n[1] - 1) / 2) * spacingXyz[1];
  const halfZ = ((n[2] - 1) / 2) * spacingXyz[2];

  const ax = uniform(rng, 0.8, 0.9) * halfX;
  const ay = uniform(rng, 0.62, 0.75) * halfY;
  const s = Math.min(ax / 72, ay / 55) * uniform(rng, 0.95, 1.08); // organ size relative to a reference body
  const fat = uniform(rng, 6, 12) * s;
  const body = { ax, ay, fat, wobbleAmp: uniform(rng, 0.01, 0.04), wobbleK: (2 * Math.PI) / uniform(rng, 80, 160), wobblePhase: uniform(rng, 0, 2 * Math.PI) };

  const spineRadius = uniform(rng, 10, 12.5) * s;
  const spineY = -ay + fat + uniform(rng, 18, 24) * s + spineRadius;
  const canalRadius = uniform(rng, 4.5, 6) * s;
  const spine = {
    y: spineY,
    radius: spineRadius,
    canalRadius,
    canalY: spineY - spineRadius - canalRadius - 2 * s,
    discPeriod: uniform(rng, 22, 30) * s,
    discPhase: uniform(rng, 0, 1),
    discFraction: uniform(rng, 0.18, 0.25),
  };
  const muscles = [-1, 1].map((side) =>
    blob(rng, [side * uniform(rng, 18, 22) * s, spine.canalY + uniform(rng, -2, 3) * s, 0], [uniform(rng, 11, 14) * s, uniform(rng, 9, 12) * s, 10 * halfZ], side * uniform(rng, 0, 0.3), 0.04),
  );
  const aortaRadius = uniform(rng, 7, 10) * s;
  const aorta = {
    x: -uniform(rng, 5, 10) * s,
    y: spineY + spineRadius + aortaRadius + uniform(rng, 1, 4) * s,
    radius: aortaRadius,
    wiggleAmp: uniform(rng, 1, 4) * s,
    wiggleK: (2 * Math.PI) / uniform(rng, 100, 220),
    wigglePhase: uniform(rng, 0, 2 * Math.PI),
  };

  const liverSemi: Xyz = [uniform(rng, 31, 38) * s, uniform(rng, 26, 33) * s, uniform(rng, 34, 42) * s];
  const liverCenter: Xyz = [uniform(rng, 0.3, 0.4) * ax, uniform(rng, 0.0, 0.2) * ay, uniform(rng, 0.12, 0.22) * 2 * halfZ];
  const liver = blob(rng, liverCenter, liverSemi, uniform(rng, -0.25, 0.25), 0.08);
  const liverTumours: Blob[] = [];
  if (options.liverTumours) {
    const count = 1 + Math.floor(rng() * 3);
    for (let t = 0; t < count; t++) {
      const r = uniform(rng, 8, 20);
      const u = randomUnit(rng);
      const depth = uniform(rng, 0, 0.55);
      const c: Xyz = [liverCenter[0] + u[0] * liverSemi[0] * depth, liverCenter[1] + u[1] * liverSemi[1] * depth, liverCenter[2] + u[2] * liverSemi[2] * depth];
      liverTumours.push(blob(rng, c, [r * uniform(rng, 0.85, 1.15), r * uniform(rng, 0.85, 1.15), r * uniform(rng, 0.85, 1.15)], uniform(rng, 0, Math.PI), 0.1));
    }
  }

  const spleen = blob(
    rng,
    [-uniform(rng, 0.48, 0.58) * ax, -uniform(rng, 0.05, 0.25) * ay, uniform(rng, 0.08, 0.18) * 2 * halfZ],
    [uniform(rng, 12, 16) * s, uniform(rng, 18, 24) * s, uniform(rng, 24, 32) * s],
    -uniform(rng, 0.4, 0.9),
    0.08,
  );

  const kidneyZ = -uniform(rng, 0.08, 0.16) * 2 * halfZ;
  const kidneys = [1, -1].map((side) =>
    blob(
      rng,
      [side * uniform(rng, 33, 40) * s, spineY + uniform(rng, 2, 8) * s, kidneyZ + (side > 0 ? -uniform(rng, 2, 8) : uniform(rng, 0, 4)) * s],
      [uniform(rng, 12, 15) * s, uniform(rng, 14, 17) * s, uniform(rng, 24, 30) * s],
      side * uniform(rng, 0.15, 0.45),
      0.06,
    ),
  );
  const kidneyTumours: Blob[] = [];
  if (options.kidneyTumours) {
    const count = rng() < 0.8 ? 1 : 2;
    for (let t = 0; t < count; t++) {
      const k = kidneys[Math.floor(rng() * 2)];
      const r = uniform(rng, 12, 20); // >= 3 voxels radius at 4 mm: learnable after resampling
      // centre on the kidney's lateral/anterior surface, so tumours bulge out of the kidney like in KiTS
      const u = randomUnit(rng);
      u[0] = Math.sign(k.center[0]) * Math.abs(u[0]);
      const reach = uniform(rng, 0.6, 0.95);
      const c: Xyz = [k.center[0] + u[0] * k.semi[0] * reach, k.center[1] + u[1] * k.semi[1] * reach, k.center[2] + u[2] * k.semi[2] * reach * 0.8];
      kidneyTumours.push(blob(rng, c, [r * uniform(rng, 0.85, 1.15), r * uniform(rng, 0.85, 1.15), r * uniform(rng, 0.85, 1.15)], uniform(rng, 0, Math.PI), 0.08));
    }
  }

  const hu = new Array<number>(TISSUE_COUNT).fill(0);
  hu[Tissue.AIR] = -1000;
  hu[Tissue.FAT] = uniform(rng, -110, -85);
  hu[Tissue.SOFT] = uniform(rng, 25, 45);
  hu[Tissue.MUSCLE] = uniform(rng, 40, 60);
  hu[Tissue.CORTICAL_BONE] = uniform(rng, 750, 1000);
  hu[Tissue.CANCELLOUS_BONE] = uniform(rng, 400, 550);
  hu[Tissue.SPINAL_CANAL] = uniform(rng, 5, 20);
  hu[Tissue.DISC] = uniform(rng, 70, 100);
  hu[Tissue.AORTA] = uniform(rng, 150, 250);
  const contrast = rng(); // portal-venous enhancement of the liver: 0 unenhanced-ish, 1 strong
  hu[Tissue.LIVER] = 60 + 45 * contrast + uniform(rng, -3, 3);
  hu[Tissue.LIVER_TUMOUR] = Math.min(uniform(rng, 20, 40), hu[Tissue.LIVER] - 25);
  hu[Tissue.SPLEEN] = uniform(rng, 50, 110);
  hu[Tissue.KIDNEY_CORTEX] = uniform(rng, 150, 200);
  hu[Tissue.KIDNEY_MEDULLA] = hu[Tissue.KIDNEY_CORTEX] - uniform(rng, 40, 70);
  hu[Tissue.KIDNEY_TUMOUR] = uniform(rng, 30, 60);

  return {
    shape: [n[2], n[1], n[0]],
    spacing: [spacingXyz[2], spacingXyz[1], spacingXyz[0]],
    origin,
    body,
    spine,
    muscles,
    aorta,
    liver,
    liverTumours,
    spleen,
    kidneys,
    kidneyTumours,
    kidneyLevelZ: (kidneys[0].center[2] + kidneys[1].center[2]) / 2,
    hu,
    noiseStd: uniform(rng, 10, 25),
    texture: {
      amp: uniform(rng, 3, 8),
      k: [(2 * Math.PI) / uniform(rng, 40, 90), (2 * Math.PI) / uniform(rng, 40, 90), (2 * Math.PI) / uniform(rng, 40, 90)],
      phase: [uniform(rng, 0, 6.3), uniform(rng, 0, 6.3), uniform(rng, 0, 6.3)],
    },
  };
}

function randomUnit(rng: Rng): Xyz {
  const z = uniform(rng, -1, 1);
  const t = uniform(rng, 0, 2 * Math.PI);
  const r = Math.sqrt(1 - z * z);
  return [r * Math.cos(t), r * Math.sin(t), z];
}

export function anatomyAffine(a: Anatomy): Affine {
  return diagonalAffine(a.spacing, a.origin);
}

/** World coordinate tables per axis. */
function axes(a: Anatomy): { xs: Float64Array; ys: Float64Array; zs: Float64Array } {
  const [nz, ny, nx] = a.shape;
  const [sz, sy, sx] = a.spacing;
  const xs = Float64Array.from({ length: nx }, (_, i) => a.origin[0] + i * sx);
  const ys = Float64Array.from({ length: ny }, (_, j) => a.origin[1] + j * sy);
  const zs = Float64Array.from({ length: nz }, (_, k) => a.origin[2] + k * sz);
  return { xs, ys, zs };
}

/** Normalised radius of point (x,y,z) in a blob: < 1 inside. */
export function blobRadius(b: Blob, x: number, y: number, z: number): number {
  return blobEvaluator(b)(x, y, z);
}

/** A fast evaluator of `blobRadius` for one blob (constants hoisted out of the voxel loop). */
function blobEvaluator(b: Blob): (x: number, y: number, z: number) => number {
  const [cx, cy, cz] = b.center;
  const c = Math.cos(b.angle);
  const s = Math.sin(b.angle);
  const ia = 1 / b.semi[0];
  const ib = 1 / b.semi[1];
  const ic = 1 / b.semi[2];
  const t0 = b.warp.terms[0];
  const t1 = b.warp.terms[1];
  if (!t0 || !t1 || b.warp.terms.length !== 2) {
    return (x, y, z) => {
      let dx = x - cx;
      let dy = y - cy;
      let dz = z - cz;
      for (const t of b.warp.terms) {
        const w = Math.sin(t.k[0] * dx + t.k[1] * dy + t.k[2] * dz + t.phase);
        dx += t.amp[0] * w;
        dy += t.amp[1] * w;
        dz += t.amp[2] * w;
      }
      const u = (c * dx + s * dy) * ia;
      const v = (-s * dx + c * dy) * ib;
      const w = dz * ic;
      return Math.sqrt(u * u + v * v + w * w);
    };
  }
  const [k0x, k0y, k0z] = t0.k;
  const [a0x, a0y, a0z] = t0.amp;
  const p0 = t0.phase;
  const [k1x, k1y, k1z] = t1.k;
  const [a1x, a1y, a1z] = t1.amp;
  const p1 = t1.phase;
  return (x, y, z) => {
    let dx = x - cx;
    let dy = y - cy;
    let dz = z - cz;
    const w0 = Math.sin(k0x * dx + k0y * dy + k0z * dz + p0);
    dx += a0x * w0;
    dy += a0y * w0;
    dz += a0z * w0;
    const w1 = Math.sin(k1x * dx + k1y * dy + k1z * dz + p1);
    dx += a1x * w1;
    dy += a1y * w1;
    dz += a1z * w1;
    const u = (c * dx + s * dy) * ia;
    const v = (-s * dx + c * dy) * ib;
    const w = dz * ic;
    return Math.sqrt(u * u + v * v + w * w);
  };
}

/** Index range [lo, hi] along one axis of world interval [a, b]. */
function span(coords: Float64Array, a: number, b: number): [number, number] {
  const n = coords.length;
  const step = n > 1 ? coords[1] - coords[0] : 1;
  const lo = Math.max(0, Math.floor((a - coords[0]) / step));
  const hi = Math.min(n - 1, Math.ceil((b - coords[0]) / step));
  return [lo, hi];
}

/**
 * Visits voxels whose normalised blob radius is below `rMax`, inside the blob's bounding box.
 * `grow` (mm) enlarges the blob's semi-axes.
 */
function forBlob(a: Anatomy, ax: ReturnType<typeof axes>, b: Blob, grow: number, visit: (index: number, r: number) => void, rMax = 1): void {
  const g: Blob = grow === 0 ? b : { ...b, semi: [b.semi[0] + grow, b.semi[1] + grow, b.semi[2] + grow] };
  const warpReach = b.warp.terms.reduce((m, t) => m + Math.hypot(...t.amp), 0);
  const rxy = Math.max(g.semi[0], g.semi[1]) * rMax + warpReach;
  const rz = g.semi[2] * rMax + warpReach;
  const [i0, i1] = span(ax.xs, b.center[0] - rxy, b.center[0] + rxy);
  const [j0, j1] = span(ax.ys, b.center[1] - rxy, b.center[1] + rxy);
  const [k0, k1] = span(ax.zs, b.center[2] - rz, b.center[2] + rz);
  const [, ny, nx] = a.shape;
  const radius = blobEvaluator(g);
  for (let k = k0; k <= k1; k++) {
    const z = ax.zs[k];
    for (let j = j0; j <= j1; j++) {
      const y = ax.ys[j];
      const row = (k * ny + j) * nx;
      for (let i = i0; i <= i1; i++) {
        const r = radius(ax.xs[i], y, z);
        if (r < rMax) visit(row + i, r);
      }
    }
  }
}

/** The tissue map of an anatomy: one Tissue value per voxel, [z, y, x] C order. */
export function renderTissue(a: Anatomy): Uint8Array {
  const [nz, ny, nx] = a.shape;
  const ax = axes(a);
  const tissue = new Uint8Array(nz * ny * nx);
  const inner = new Uint8Array(nz * ny * nx); // inside the abdominal wall (organs may live here)

  // body: air outside, subcutaneous fat ring, soft-tissue interior; vertebral column and canal
  const { body, spine } = a;
  for (let k = 0; k < nz; k++) {
    const z = ax.zs[k];
    const wob = 1 + body.wobbleAmp * Math.sin(body.wobbleK * z + body.wobblePhase);
    const ibx = 1 / (body.ax * wob);
    const iby = 1 / (body.ay * wob);
    const iix = 1 / (body.ax * wob - body.fat);
    const iiy = 1 / (body.ay * wob - body.fat);
    const vr2 = spine.radius * spine.radius;
    const vc2 = (spine.radius - 2.5) * (spine.radius - 2.5);
    const cr2 = spine.canalRadius * spine.canalRadius;
    const ar2 = (spine.canalRadius + 4) * (spine.canalRadius + 4);
    const discT = (((z / spine.discPeriod + spine.discPhase) % 1) + 1) % 1;
    const isDisc = discT < spine.discFraction;
    for (let j = 0; j < ny; j++) {
      const y = ax.ys[j];
      const row = (k * ny + j) * nx;
      const yo = y * iby;
      const yi = y * iiy;
      const yv = y - spine.y;
      const yc = y - spine.canalY;
      for (let i = 0; i < nx; i++) {
        const x = ax.xs[i];
        const xo = x * ibx;
        if (xo * xo + yo * yo >= 1) continue;
        const xi = x * iix;
        const isInner = xi * xi + yi * yi < 1;
        let t: number = isInner ? Tissue.SOFT : Tissue.FAT;
        if (isInner) inner[row + i] = 1;
        const dv2 = x * x + yv * yv;
        const dc2 = x * x + yc * yc;
        if (dv2 < vr2) t = isDisc ? Tissue.DISC : dv2 > vc2 ? Tissue.CORTICAL_BONE : Tissue.CANCELLOUS_BONE;
        else if (dc2 < cr2) t = Tissue.SPINAL_CANAL;
        else if (dc2 < ar2 && !isDisc) t = Tissue.CORTICAL_BONE; // neural arch
        tissue[row + i] = t;
      }
    }
  }
  const paint = (value: number, allowed?: (current: number) => boolean) => (index: number) => {
    if (!inner[index]) return;
    const cur = tissue[index];
    if (cur === Tissue.CORTICAL_BONE || cur === Tissue.CANCELLOUS_BONE || cur === Tissue.DISC || cur === Tissue.SPINAL_CANAL) return;
    if (allowed && !allowed(cur)) return;
    tissue[index] = value;
  };
  for (const m of a.muscles) forBlob(a, ax, m, 0, paint(Tissue.MUSCLE));
  forBlob(a, ax, a.liver, 0, paint(Tissue.LIVER));
  forBlob(a, ax, a.spleen, 0, paint(Tissue.SPLEEN));
  // perirenal fat around kidneys and kidney tumours, then the kidneys (cortex shell, medulla core)
  for (const kd of a.kidneys) forBlob(a, ax, kd, 6, paint(Tissue.FAT));
  for (const kt of a.kidneyTumours) forBlob(a, ax, kt, 5, paint(Tissue.FAT, (c) => c !== Tissue.LIVER && c !== Tissue.SPLEEN));
  const paintMedulla = paint(Tissue.KIDNEY_MEDULLA);
  const paintCortex = paint(Tissue.KIDNEY_CORTEX);
  for (const kd of a.kidneys) forBlob(a, ax, kd, 0, (index, r) => (r < 0.7 ? paintMedulla : paintCortex)(index));
  // aorta: a contrast-filled tube along the whole z extent
  const { aorta } = a;
  const paintAorta = paint(Tissue.AORTA);
  for (let k = 0; k < nz; k++) {
    const z = ax.zs[k];
    const cx = aorta.x + aorta.wiggleAmp * Math.sin(aorta.wiggleK * z + aorta.wigglePhase);
    const [i0, i1] = span(ax.xs, cx - aorta.radius, cx + aorta.radius);
    const [j0, j1] = span(ax.ys, aorta.y - aorta.radius, aorta.y + aorta.radius);
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        const dx = ax.xs[i] - cx;
        const dy = ax.ys[j] - aorta.y;
        if (dx * dx + dy * dy < aorta.radius * aorta.radius) paintAorta((k * ny + j) * nx + i);
      }
    }
  }
  // liver tumours: only where the liver is, one voxel inside its boundary (6-neighbourhood), so every
  // tumour voxel is enclosed by liver whatever the protocol
  const liverCore = erodedMask(tissue, a.shape, Tissue.LIVER);
  for (const lt of a.liverTumours) forBlob(a, ax, lt, 0, (index) => { if (liverCore[index]) tissue[index] = Tissue.LIVER_TUMOUR; });
  // kidney tumours: in the kidney and the fat around it, never in other organs
  const kidneyTumourHost = (c: number) =>
    c === Tissue.KIDNEY_CORTEX || c === Tissue.KIDNEY_MEDULLA || c === Tissue.FAT || c === Tissue.SOFT || c === Tissue.MUSCLE;
  for (const kt of a.kidneyTumours) forBlob(a, ax, kt, 0, paint(Tissue.KIDNEY_TUMOUR, kidneyTumourHost));
  return tissue;
}

/** Voxels of `value` whose six face neighbours (inside the grid) are also `value`. */
function erodedMask(tissue: Uint8Array, shape: Vec3, value: number): Uint8Array {
  const [nz, ny, nx] = shape;
  const out = new Uint8Array(tissue.length);
  const sy = nx;
  const sz = nx * ny;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const p = k * sz + j * sy + i;
        if (tissue[p] !== value) continue;
        if (i > 0 && tissue[p - 1] !== value) continue;
        if (i < nx - 1 && tissue[p + 1] !== value) continue;
        if (j > 0 && tissue[p - sy] !== value) continue;
        if (j < ny - 1 && tissue[p + sy] !== value) continue;
        if (k > 0 && tissue[p - sz] !== value) continue;
        if (k < nz - 1 && tissue[p + sz] !== value) continue;
        out[p] = 1;
      }
    }
  }
  return out;
}

/**
 * In-place [1/4, 1/2, 1/4] smoothing along one axis, edges replicated. `outer` lines of `len`
 * elements `stride` apart, each line made of `inner` contiguous elements (so every loop is contiguous).
 */
function smoothAxis(data: Float32Array, outer: number, len: number, inner: number): void {
  if (len < 2) return;
  const prev = new Float32Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    prev.set(data.subarray(base, base + inner));
    for (let t = 0; t < len; t++) {
      const cur = base + t * inner;
      const next = t < len - 1 ? cur + inner : cur;
      for (let e = 0; e < inner; e++) {
        const c = data[cur + e];
        data[cur + e] = 0.25 * prev[e] + 0.5 * c + 0.25 * data[next + e];
        prev[e] = c;
      }
    }
  }
}

/** Separable [1/4, 1/2, 1/4] smoothing along every axis, edges replicated. */
function smooth3(data: Float32Array, shape: Vec3): void {
  const [nz, ny, nx] = shape;
  smoothAxis(data, 1, nz, ny * nx);
  smoothAxis(data, nz, ny, nx);
  smoothAxis(data, nz * ny, nx, 1);
}

/** CT image in HU (int16) of a tissue map: intensities, low-frequency texture, slight blur, noise. */
export function renderImage(a: Anatomy, tissue: Uint8Array, rng: Rng): Int16Array {
  const [nz, ny, nx] = a.shape;
  const ax = axes(a);
  const img = new Float32Array(tissue.length);
  const tx = Float64Array.from(ax.xs, (x) => Math.sin(a.texture.k[0] * x + a.texture.phase[0]));
  const ty = Float64Array.from(ax.ys, (y) => Math.sin(a.texture.k[1] * y + a.texture.phase[1]));
  const tz = Float64Array.from(ax.zs, (z) => Math.sin(a.texture.k[2] * z + a.texture.phase[2]));
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = (k * ny + j) * nx;
      const tzy = a.texture.amp * (tz[k] + ty[j]) * 0.5;
      for (let i = 0; i < nx; i++) {
        const t = tissue[row + i];
        img[row + i] = a.hu[t] + (t === Tissue.AIR ? 0 : tzy + 0.5 * a.texture.amp * tx[i]);
      }
    }
  }
  smooth3(img, a.shape);
  const noise = gaussianNoise(rng, img.length);
  const out = new Int16Array(img.length);
  for (let p = 0; p < img.length; p++) {
    const v = Math.round(img[p] + a.noiseStd * noise[p]);
    out[p] = v < -1024 ? -1024 : v > 3071 ? 3071 : v;
  }
  return out;
}
