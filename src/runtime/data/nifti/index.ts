/** NIfTI-1 input and output: the one import for callers outside the data layer. */
export { type Affine, affineSpacingZyx, diagonalAffine } from './affine.js';
export type { NiftiDatatype } from './format.js';
export {
  type NiftiGeometry,
  type NiftiHeader,
  geometryFromHeader,
  type NiftiImage,
  type NiftiLabel,
  type ReadOptions,
  parseNifti,
  readNifti,
  readNiftiHeader,
  readNiftiLabel,
} from './read.js';
export { type WritableDatatype, type WritableVolume, type WriteLikeOptions, type WriteNiftiOptions, encodeNifti, writeNifti, writeNiftiLike } from './write.js';
export { CANONICAL, type Orientation, inverseOrientation, ioOrientation, isCanonical, orientationCode, reorientArray, reorientedAffine, reorientedShape, reorientedSpacing } from './orientation.js';
export { MtDataError } from '../errors.js';
