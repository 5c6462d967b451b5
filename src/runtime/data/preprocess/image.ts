/**
 * Preprocessing of one image, the way training preprocessed its cases (nnU-Net's order): crop to the
 * nonzero bounding box -> CT normalisation with given statistics -> resample to the target spacing
 * (cubic images, one-hot linear labels, separate z for anisotropic data).
 *
 * `preprocessArrays` is the one implementation; the collection pipeline (collection.ts) calls it for
 * training cases with their labels, `preprocessImageFile` for a new scan without one (inference). The
 * result records how to go back to the file (`CaseSource`), which the inference export uses.
 */
import type { Vec3 } from '../../../graph/types.js';
import { MtDataError } from '../errors.js';
import { type NiftiGeometry, readNifti } from '../nifti/read.js';
import type { CaseSource, Volume } from '../types.js';
import { boxShape, cropToBox, nonzeroBoundingBox } from './crop.js';
import { checkCtLike } from './ct-check.js';
import { type CtStats, applyCtNormalization } from './normalize.js';
import { type InterpolationOrder, planResampling, resampleImage, resampleLabel } from './resample.js';

/** What preprocessing needs to know: the facts a trained model's plans.json records. */
export interface ImagePreprocessing {
  /** Target spacing [z, y, x] mm. */
  spacing: Vec3;
  /** CT normalisation statistics: clip to [p005, p995], then (x - mean) / max(std, 1e-8). */
  normalization: Pick<CtStats, 'mean' | 'std' | 'p005' | 'p995'>;
  /** Image interpolation order (default 3, nnU-Net's cubic spline). */
  imageOrder?: InterpolationOrder;
}

export interface PreprocessedArrays {
  image: Float32Array;
  /** The resampled label map, when a label was given. */
  label: Uint8Array | null;
  shape: Vec3;
  cropStart: Vec3;
  cropEnd: Vec3;
  /** The low-resolution axis resampled separately with order 0, or null. */
  separateAxis: number | null;
}

/**
 * Crop, normalise and resample canonical (RAS) arrays. `image` is normalised in place when the crop
 * keeps the whole volume; pass a copy when the caller still needs the raw intensities.
 */
export function preprocessArrays(
  image: Float32Array,
  label: Uint8Array | null,
  canonicalShape: Vec3,
  canonicalSpacing: Vec3,
  options: ImagePreprocessing,
): PreprocessedArrays {
  const order = options.imageOrder ?? 3;
  const box = nonzeroBoundingBox(image, canonicalShape);
  const cropped = boxShape(box);
  let img: Float32Array | null = applyCtNormalization(cropToBox(image, canonicalShape, box), { ...options.normalization, samples: 0 });
  let lab: Uint8Array | null = label ? cropToBox(label, canonicalShape, box) : null;
  const plan = planResampling(cropped, canonicalSpacing, options.spacing);
  const outImage = resampleImage(img, cropped, plan.newShape, order, { separateAxis: plan.separateAxis });
  img = null;
  const outLabel = lab ? resampleLabel(lab, cropped, plan.newShape, { separateAxis: plan.separateAxis }) : null;
  lab = null;
  return { image: outImage, label: outLabel, shape: plan.newShape, cropStart: box.start, cropEnd: box.end, separateAxis: plan.separateAxis };
}

/** One new scan, preprocessed for a trained model. */
export interface PreprocessedImage {
  /** Normalised intensities at the target spacing, [z, y, x] in the internal (RAS) order. */
  image: Float32Array;
  shape: Vec3;
  spacing: Vec3;
  /** The way back to the file: its stored grid, orientation, crop box and resampling axis. */
  source: CaseSource;
  /** The file's geometry and header, for writing results with `writeNiftiLike`. */
  geometry: NiftiGeometry;
}

export interface PreprocessImageOptions {
  /** Keep the raw canonical intensities (for statistics such as the mean HU of a class). */
  keepRaw?: boolean;
  /** Refuse images that do not look like CT in Hounsfield units (default true). */
  checkCt?: boolean;
}

/**
 * Reads a NIfTI CT and preprocesses it as training did. Refuses 4-D files and (unless `checkCt` is
 * false) images that do not look like CT in Hounsfield units, with an MtDataError naming the file.
 */
export async function preprocessImageFile(
  path: string,
  preprocessing: ImagePreprocessing,
  options: PreprocessImageOptions = {},
): Promise<{ preprocessed: PreprocessedImage; raw: Volume<Float32Array> | null }> {
  const read = await readNifti(path, { orientation: 'ras' });
  const volume = read.volume;
  if (options.checkCt ?? true) checkCtLike(path, volume.data);
  if (volume.shape.some((d) => d < 2)) {
    throw MtDataError.about(path, `is ${volume.shape.join('x')} voxels [z,y,x]; a CT volume needs at least 2 voxels along every axis`, 'Pass a 3-D CT volume');
  }
  const input = options.keepRaw ? Float32Array.from(volume.data) : volume.data;
  const arrays = preprocessArrays(input, null, volume.shape, volume.spacing, preprocessing);
  const source: CaseSource = {
    imagePath: path,
    storedShape: read.geometry.shape,
    orientationCode: read.geometry.orientationCode,
    canonicalShape: volume.shape,
    canonicalSpacing: volume.spacing,
    cropStart: arrays.cropStart,
    cropEnd: arrays.cropEnd,
    separateAxis: arrays.separateAxis,
  };
  return {
    preprocessed: { image: arrays.image, shape: arrays.shape, spacing: [...preprocessing.spacing] as Vec3, source, geometry: read.geometry },
    raw: options.keepRaw ? volume : null,
  };
}
