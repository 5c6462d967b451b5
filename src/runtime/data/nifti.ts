/** NIfTI-1 input and output: the one import for callers outside the data layer. */
export { type Affine, affineSpacingZyx, diagonalAffine } from './affine.js';
export type { NiftiDatatype } from './nifti-format.js';
export {
  type NiftiGeometry,
  type NiftiImage,
  type NiftiLabel,
  type ReadOptions,
  parseNifti,
  readNifti,
  readNiftiHeader,
  readNiftiLabel,
} from './nifti-read.js';
export { type WritableDatatype, type WritableVolume, type WriteNiftiOptions, encodeNifti, writeNifti } from './nifti-write.js';
export { MtDataError } from './errors.js';
