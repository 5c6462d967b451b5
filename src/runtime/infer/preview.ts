/**
 * `mtc infer --preview`: a PNG of a few slices of the CT with the segmentation overlaid (pure, apart
 * from the PNG encoder). Panels, left to right: three axial slices at 25, 50 and 75 % of the
 * segmented extent (of the volume when nothing was segmented), then a coronal and a sagittal slice
 * through the segmentation's centre. Radiological convention (the subject's right on the left,
 * anterior at the top of axial slices, superior at the top otherwise), square millimetres, soft-tissue
 * window (level 40, width 400 HU), classes filled at 50 % opacity in the colours of `PREVIEW_COLOURS`.
 */
import type { Vec3 } from '../../graph/types.js';
import { encodePng } from '../io/png.js';

/** Class colours (RGB), by class index modulo the list. */
export const PREVIEW_COLOURS: [number, number, number][] = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
  [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200],
  [128, 0, 0], [170, 255, 195], [128, 128, 0], [255, 215, 180], [0, 0, 128], [128, 128, 128],
];

export function colourHex(i: number): string {
  const [r, g, b] = PREVIEW_COLOURS[i % PREVIEW_COLOURS.length];
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

const PANEL = 256;
const GAP = 4;
const LEVEL = 40;
const WIDTH = 400;

interface Panel {
  /** Panel size in pixels. */
  w: number;
  h: number;
  /** Voxel index of pixel (px, py) or -1 outside. */
  voxel: (px: number, py: number) => number;
}

/**
 * Renders the preview. `image` is the CT [z, y, x] in the internal RAS order (HU), `classMap` the
 * same grid with 0 for background and 1 + class index elsewhere, `spacing` [z, y, x] mm.
 */
export function renderPreview(image: Float32Array, classMap: Uint8Array, shape: Vec3, spacing: Vec3): Uint8Array {
  const [nz, ny, nx] = shape;
  const [sz, sy, sx] = spacing;
  // extent and centre of the segmentation (or of the volume)
  let z0 = nz, z1 = -1;
  let cy = 0, cx = 0, n = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        if (classMap[(z * ny + y) * nx + x] === 0) continue;
        if (z < z0) z0 = z;
        if (z > z1) z1 = z;
        cy += y;
        cx += x;
        n++;
      }
  if (n === 0) {
    z0 = 0;
    z1 = nz - 1;
    cy = (ny - 1) / 2;
    cx = (nx - 1) / 2;
  } else {
    cy /= n;
    cx /= n;
  }
  const at = (f: number) => Math.round(z0 + f * (z1 - z0));
  const size = [nz, ny, nx];
  const mm = [sz, sy, sx];
  /**
   * A slice at `fixed` along axis `normal`; `across` runs left to right and `down` top to bottom,
   * both reversed (radiological view of the RAS grid: right on the left, anterior/superior on top).
   */
  const slice = (normal: number, fixed: number, across: number, down: number): Panel => {
    const mmPerPx = Math.max(size[across] * mm[across], size[down] * mm[down]) / PANEL;
    const index = (px: number, axis: number) => size[axis] - 1 - Math.min(size[axis] - 1, Math.floor(((px + 0.5) * mmPerPx) / mm[axis]));
    const strides = [ny * nx, nx, 1];
    return {
      w: Math.max(1, Math.round((size[across] * mm[across]) / mmPerPx)),
      h: Math.max(1, Math.round((size[down] * mm[down]) / mmPerPx)),
      voxel: (px, py) => fixed * strides[normal] + index(px, across) * strides[across] + index(py, down) * strides[down],
    };
  };
  const axial = (z: number) => slice(0, z, 2, 1);
  const coronal = (y: number) => slice(1, y, 2, 0);
  const sagittal = (x: number) => slice(2, x, 1, 0);
  const panels = [axial(at(0.25)), axial(at(0.5)), axial(at(0.75)), coronal(Math.round(cy)), sagittal(Math.round(cx))];
  const width = panels.reduce((s, p) => s + p.w, 0) + GAP * (panels.length + 1);
  const height = Math.max(...panels.map((p) => p.h)) + 2 * GAP;
  const rgb = new Uint8Array(width * height * 3).fill(16);
  let left = GAP;
  const lo = LEVEL - WIDTH / 2;
  for (const p of panels) {
    for (let py = 0; py < p.h; py++)
      for (let px = 0; px < p.w; px++) {
        const v = p.voxel(px, py);
        const g = Math.max(0, Math.min(255, Math.round(((image[v] - lo) / WIDTH) * 255)));
        let r = g, gg = g, b = g;
        const c = classMap[v];
        if (c > 0) {
          const [cr, cg, cb] = PREVIEW_COLOURS[(c - 1) % PREVIEW_COLOURS.length];
          r = Math.round(0.5 * g + 0.5 * cr);
          gg = Math.round(0.5 * g + 0.5 * cg);
          b = Math.round(0.5 * g + 0.5 * cb);
        }
        const o = ((GAP + py) * width + left + px) * 3;
        rgb[o] = r;
        rgb[o + 1] = gg;
        rgb[o + 2] = b;
      }
    left += p.w + GAP;
  }
  return encodePng(width, height, rgb);
}
