/** The data layer's public surface: NIfTI I/O, raw datasets, the synthetic collection, preprocessing. */
export { MtDataError, isMtDataError } from './errors.js';
export * from './nifti/index.js';
export {
  type DatasetJson,
  type LoadRawDatasetOptions,
  type RawCase,
  type RawCaseRef,
  type RawDataset,
  expectedLayout,
  loadRawCase,
  loadRawDataset,
} from './raw/dataset.js';
export {
  QUICKSTART_DATASETS,
  type QuickstartDataset,
  SYNTH_GENERATORS,
  type SynthCase,
  type SynthDatasetResult,
  type SynthOptions,
  type SynthResult,
  synthesizeCase,
  synthesizeCollection,
} from './synth/collection.js';
export {
  type PreprocessInput,
  type PreprocessOptions,
  type PreprocessProgress,
  type PreprocessResult,
  preprocessCollection,
  preprocessCollectionDetailed,
  regionMask,
} from './preprocess/collection.js';
export type { CtStats } from './preprocess/normalize.js';
export {
  type ImagePreprocessing,
  type PreprocessImageOptions,
  type PreprocessedArrays,
  type PreprocessedImage,
  preprocessArrays,
  preprocessImageFile,
} from './preprocess/image.js';
export { checkCtLike, ctLikeProblem } from './preprocess/ct-check.js';
export {
  ANISOTROPY_THRESHOLD,
  type InterpolationOrder,
  type ResampleOptions,
  type ResamplePlan,
  planResampling,
  resampleImage,
  resampleLabel,
  targetShape,
} from './preprocess/resample.js';
export { CACHE_CODE_VERSION, PreprocessCache, defaultCacheDir } from './cache/cache.js';
export {
  type CaseFingerprint,
  type DatasetFingerprint,
  type FingerprintOptions,
  type FingerprintResult,
  type IntensityStats,
  DEFAULT_FOREGROUND_SAMPLES,
  datasetFingerprint,
  pooledStats,
} from './raw/fingerprint.js';
export { type FoldSplit, foldOf, kFoldSplits, readSplitFile, splitCases } from './raw/split.js';
export { sampleClassVoxels } from './preprocess/class-voxels.js';
export type { CaseSource, PreprocessedCase, PreprocessedDataset, Volume } from './types.js';
