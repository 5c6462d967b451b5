/** NIfTI-1/NIfTI-2 constants shared by the reader and the writer. */

export type NiftiDatatype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float32' | 'float64';

/** NIfTI datatype codes and bytes per voxel of the types this project reads. */
export const DATATYPES: Record<NiftiDatatype, { code: number; bytes: number }> = {
  uint8: { code: 2, bytes: 1 },
  int16: { code: 4, bytes: 2 },
  int32: { code: 8, bytes: 4 },
  float32: { code: 16, bytes: 4 },
  float64: { code: 64, bytes: 8 },
  int8: { code: 256, bytes: 1 },
  uint16: { code: 512, bytes: 2 },
  uint32: { code: 768, bytes: 4 },
  int64: { code: 1024, bytes: 8 },
};

export function datatypeFromCode(code: number): NiftiDatatype | undefined {
  for (const [name, info] of Object.entries(DATATYPES) as [NiftiDatatype, { code: number; bytes: number }][]) {
    if (info.code === code) return name;
  }
  return undefined;
}

/** Names of the NIfTI datatype codes we do not read, for error messages. */
export const UNSUPPORTED_DATATYPE_NAMES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

export const HEADER_BYTES = 348;
export const HEADER2_BYTES = 540;
/** Header plus the 4-byte extension flag: where single-file (.nii) voxel data starts when there are no extensions. */
export const VOX_OFFSET = 352;

/** xyzt_units spatial codes. */
export const UNITS_METER = 1;
export const UNITS_MM = 2;
export const UNITS_MICRON = 3;
