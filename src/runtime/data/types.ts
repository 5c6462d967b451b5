import type { Vec3 } from '../../graph/types.js';

/**
 * In-memory volumes. Voxel arrays are C-ordered over shape [z, y, x] (x fastest), which is
 * exactly NIfTI's on-disk order, so reading a file needs no transpose. Spacing is in mm, [z, y, x].
 */
export interface Volume<T extends Float32Array | Uint8Array = Float32Array> {
  data: T;
  shape: Vec3;
  spacing: Vec3;
}

/** One training/evaluation case after preprocessing (normalised image, resampled to target spacing). */
export interface PreprocessedCase {
  /** nnU-Net case identifier, e.g. `liver_003`. */
  id: string;
  /** The graph dataset name the case belongs to. */
  dataset: string;
  /** Normalised intensities, shape `shape`. */
  image: Float32Array;
  /** The dataset's own label values (not regions), shape `shape`. */
  label: Uint8Array;
  shape: Vec3;
  spacing: Vec3;
  /**
   * For foreground oversampling: per class name of the case's dataset, up to 10,000 flat voxel
   * indices (into `label`) that lie inside the class region, drawn with a fixed seed. A class absent
   * from the case has an empty array.
   */
  classVoxels: Record<string, Uint32Array>;
  /** Where the case came from and how to map results back onto its file (absent for in-memory cases). */
  source?: CaseSource;
}

/**
 * The way from a raw file to a preprocessed case, for writing results back: the file's stored grid,
 * its orientation (the internal order is the closest canonical RAS+, see docs/data.md), the
 * nonzero crop box in the canonical grid, and the cropped shape before resampling.
 */
export interface CaseSource {
  imagePath: string;
  /** [z, y, x] as stored in the file. */
  storedShape: Vec3;
  /** nibabel orientation code of the file, e.g. 'LPS'. */
  orientationCode: string;
  /** [z, y, x] after reorientation to canonical RAS+. */
  canonicalShape: Vec3;
  /** [z, y, x] spacing in the canonical order. */
  canonicalSpacing: Vec3;
  /** Crop box in the canonical grid: inclusive start, exclusive end, [z, y, x]. */
  cropStart: Vec3;
  cropEnd: Vec3;
  /** The low-resolution axis resampled separately with order 0, or null. */
  separateAxis: number | null;
}

/** A preprocessed dataset with its fixed train/hold-out split. */
export interface PreprocessedDataset {
  name: string;
  cases: PreprocessedCase[];
  /** Case ids used for training. */
  train: string[];
  /** Case ids held out for evaluation. */
  holdout: string[];
}
