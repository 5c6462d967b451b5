/**
 * The export step: undoes preprocessing and writes a case's results (nnU-Net's
 * `convert_predicted_logits_to_segmentation_with_correct_shape`, for MultiTalent's outputs).
 *
 * Per class: the probability map in the preprocessed grid is resampled back to the cropped grid with
 * order 1 (the coarse axis of anisotropic data with order 0, as preprocessing did), thresholded at
 * 0.5 (sigmoid: every class on its own, so classes may overlap; softmax: the label of the most
 * probable channel, then each class's labels, graph/outputs.ts),
 * put back into the full canonical grid (zeros outside the crop) and written in the file's own voxel
 * order with the input's header and affine (`writeNiftiLike`). Classes are handled one at a time, so
 * only one class's full-resolution map is held at once.
 *
 * Outputs of case CASE under OUT (docs/inference.md):
 *   OUT/CASE/<class>.nii.gz     one binary uint8 mask per class
 *   OUT/CASE.nii.gz             with a protocol: the label map in that dataset's protocol
 *   OUT/CASE/statistics.json    with statistics: volume (mm3) and mean HU per class
 *   OUT/CASE/preview.png        with a preview: slices with the segmentation overlaid
 */
import { join } from 'node:path';
import type { Vec3 } from '../../graph/types.js';
import type { NiftiGeometry } from '../data/nifti/read.js';
import { writeNiftiLike } from '../data/nifti/write.js';
import { planResampling, resampleImage } from '../data/preprocess/resample.js';
import { regionMask } from '../data/regions.js';
import type { CaseSource, Volume } from '../data/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { PlansHead } from './plans.js';
import { renderPreview } from './preview.js';
import type { OutputActivation } from './sliding-window.js';

/** The grid a probability map was predicted on. */
export interface PredictionGrid {
  shape: Vec3;
  spacing: Vec3;
}

function cropShape(source: CaseSource): Vec3 {
  return [0, 1, 2].map((a) => source.cropEnd[a] - source.cropStart[a]) as Vec3;
}

/** A probability map of the preprocessed grid, resampled back to the crop of the canonical grid. */
export function probabilityToCrop(prob: Float32Array, grid: PredictionGrid, source: CaseSource): Float32Array {
  const target = cropShape(source);
  const { separateAxis } = planResampling(grid.shape, grid.spacing, source.canonicalSpacing);
  return resampleImage(prob, grid.shape, target, 1, { separateAxis });
}

/** A mask of the crop placed into the full canonical grid (zeros outside). */
export function uncrop(mask: Uint8Array, source: CaseSource): Uint8Array {
  const [nz, ny, nx] = source.canonicalShape;
  const [cz, cy, cx] = cropShape(source);
  if (cz === nz && cy === ny && cx === nx) return mask;
  const out = new Uint8Array(nz * ny * nx);
  const [z0, y0, x0] = source.cropStart;
  for (let z = 0; z < cz; z++)
    for (let y = 0; y < cy; y++) {
      const src = (z * cy + y) * cx;
      out.set(mask.subarray(src, src + cx), ((z + z0) * ny + y + y0) * nx + x0);
    }
  return out;
}

/** Sigmoid export of one class: the binary mask in the full canonical grid. */
export function maskInCanonicalGrid(prob: Float32Array, grid: PredictionGrid, source: CaseSource, threshold = 0.5): Uint8Array {
  const p = probabilityToCrop(prob, grid, source);
  const m = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) m[i] = p[i] > threshold ? 1 : 0;
  return uncrop(m, source);
}

/**
 * softmax export: the running argmax over channels in one grid, as label values (ties keep the
 * earlier channel, as numpy's argmax does when channels come in order).
 */
export class ArgmaxLabels {
  private best: Float32Array | null = null;
  private labels: Uint8Array | null = null;

  add(prob: Float32Array, label: number): void {
    if (!this.best || !this.labels) {
      this.best = Float32Array.from(prob);
      this.labels = new Uint8Array(prob.length).fill(label);
      return;
    }
    const b = this.best;
    const l = this.labels;
    for (let i = 0; i < prob.length; i++) {
      if (prob[i] > b[i]) {
        b[i] = prob[i];
        l[i] = label;
      }
    }
  }

  result(): Uint8Array {
    if (!this.labels) throw new Error('ArgmaxLabels: no channel added');
    return this.labels;
  }
}

/** softmax export: the label map in the full canonical grid from every channel's probabilities. */
export function labelMapInCanonicalGrid(probs: readonly Float32Array[], labels: readonly number[], grid: PredictionGrid, source: CaseSource): Uint8Array {
  const acc = new ArgmaxLabels();
  probs.forEach((p, k) => acc.add(probabilityToCrop(p, grid, source), labels[k]));
  return uncrop(acc.result(), source);
}

export interface ClassStatistics {
  dataset: string;
  class: string;
  voxels: number;
  /** Voxel count times the voxel volume of the input grid. */
  volumeMm3: number;
  /** Mean intensity (HU) of the input inside the mask; null when the mask is empty. */
  meanHu: number | null;
}

export interface CaseOutputOptions {
  /** Folder of the case's per-class files (OUT/CASE). */
  dir: string;
  /** File stem per class, parallel to `heads`. */
  fileStems: string[];
  /** The model's classes (parallel to `fileStems`). */
  heads: PlansHead[];
  /** Which of `heads` to write (default all). */
  write?: boolean[];
  activation: OutputActivation;
  /** softmax: the label value of each output channel (channel 0: background, 0). */
  channelLabels?: number[];
  threshold: number;
  grid: PredictionGrid;
  source: CaseSource;
  geometry: NiftiGeometry;
  /** Label map in a protocol: its path and per head the value written and its rank (0: not written). */
  protocol?: { path: string; value: number[]; rank: number[] } | null;
  statistics?: boolean;
  preview?: boolean;
  /** The input's intensities in the canonical grid (needed for statistics and the preview). */
  raw?: Volume<Float32Array> | null;
}

export interface CaseOutputs {
  files: string[];
  statistics: Record<string, ClassStatistics> | null;
}

/**
 * Writes one case's outputs class by class (see the module doc): `add(k, prob)` for each class of
 * `heads` in any order, then `finish()`.
 */
export class CaseWriter {
  private readonly canonicalVoxels: number;
  private readonly labelMap: Uint8Array | null;
  private readonly labelRank: Uint8Array | null;
  private readonly previewMap: Uint8Array | null;
  private readonly previewRank: Uint8Array | null;
  private readonly stats: Record<string, ClassStatistics> = {};
  private readonly files: string[] = [];
  /** softmax: the most probable channel's label so far, in the crop grid. */
  private argmax: ArgmaxLabels | null = null;
  private readonly seen = new Set<number>();

  constructor(private readonly o: CaseOutputOptions) {
    const [nz, ny, nx] = o.source.canonicalShape;
    this.canonicalVoxels = nz * ny * nx;
    this.labelMap = o.protocol ? new Uint8Array(this.canonicalVoxels) : null;
    this.labelRank = o.protocol ? new Uint8Array(this.canonicalVoxels) : null;
    this.previewMap = o.preview ? new Uint8Array(this.canonicalVoxels) : null;
    this.previewRank = o.preview ? new Uint8Array(this.canonicalVoxels) : null;
    if ((o.statistics || o.preview) && !o.raw) throw new Error('CaseWriter: statistics and preview need the raw image');
    if (o.heads.length > 255) throw new Error('CaseWriter: at most 255 classes per case');
    if (o.activation === 'softmax' && !o.channelLabels) throw new Error('CaseWriter: a softmax output needs its channel labels');
  }

  /**
   * Adds output channel k's probabilities (preprocessed grid). sigmoid: channel k is class k;
   * softmax: channel k stands for label `channelLabels[k]`.
   */
  async add(k: number, prob: Float32Array): Promise<void> {
    if (this.seen.has(k)) throw new Error(`CaseWriter: channel ${k} added twice`);
    this.seen.add(k);
    if (this.o.activation === 'sigmoid') {
      await this.writeClass(k, maskInCanonicalGrid(prob, this.o.grid, this.o.source, this.o.threshold));
      return;
    }
    this.argmax ??= new ArgmaxLabels();
    this.argmax.add(probabilityToCrop(prob, this.o.grid, this.o.source), this.o.channelLabels![k]);
  }

  private async writeClass(k: number, mask: Uint8Array): Promise<void> {
    const o = this.o;
    if (o.write && !o.write[k]) return;
    const head = o.heads[k];
    const path = join(o.dir, `${o.fileStems[k]}.nii.gz`);
    await writeNiftiLike(path, mask, o.geometry, { datatype: 'uint8', orientation: 'ras', description: `mtc ${head.dataset}.${head.name}` });
    this.files.push(path);
    const rank = o.protocol?.rank[k] ?? 0;
    if (this.labelMap && this.labelRank && rank > 0) {
      const value = o.protocol!.value[k];
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] && rank > this.labelRank[i]) {
          this.labelRank[i] = rank;
          this.labelMap[i] = value;
        }
      }
    }
    if (this.previewMap && this.previewRank) {
      const r = rank > 0 ? rank : 1;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] && r >= this.previewRank[i]) {
          this.previewRank[i] = r;
          this.previewMap[i] = k + 1;
        }
      }
    }
    if (o.statistics && o.raw) {
      const raw = o.raw.data;
      let n = 0;
      let sum = 0;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i]) {
          n++;
          sum += raw[i];
        }
      }
      const [sz, sy, sx] = o.source.canonicalSpacing;
      this.stats[o.fileStems[k]] = { dataset: head.dataset, class: head.name, voxels: n, volumeMm3: n * sz * sy * sx, meanHu: n > 0 ? sum / n : null };
    }
  }

  /** Writes what needs every class (softmax masks, the label map, statistics, the preview). */
  async finish(): Promise<CaseOutputs> {
    const o = this.o;
    if (o.activation === 'softmax' && this.argmax) {
      const labelMap = uncrop(this.argmax.result(), o.source);
      this.argmax = null;
      for (let k = 0; k < o.heads.length; k++) await this.writeClass(k, regionMask(labelMap, o.heads[k].labels));
    }
    let statistics: Record<string, ClassStatistics> | null = null;
    if (o.statistics) {
      statistics = this.stats;
      const json = Object.fromEntries(
        Object.entries(this.stats).map(([stem, s]) => [stem, { dataset: s.dataset, class: s.class, voxels: s.voxels, volume_mm3: s.volumeMm3, mean_hu: s.meanHu }]),
      );
      const path = join(o.dir, 'statistics.json');
      await writeFileAtomic(path, `${JSON.stringify(json, null, 2)}\n`);
      this.files.push(path);
    }
    if (o.preview && this.previewMap && o.raw) {
      const path = join(o.dir, 'preview.png');
      await writeFileAtomic(path, renderPreview(o.raw.data, this.previewMap, o.raw.shape, o.raw.spacing));
      this.files.push(path);
    }
    // the label map last: it sits outside the case folder, which the caller renames into place
    if (o.protocol && this.labelMap) {
      await writeNiftiLike(o.protocol.path, this.labelMap, o.geometry, { datatype: 'uint8', orientation: 'ras', description: 'mtc label map' });
      this.files.push(o.protocol.path);
    }
    return { files: [...this.files], statistics };
  }
}
