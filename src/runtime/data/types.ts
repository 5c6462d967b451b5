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
