/**
 * NIfTI-1 and NIfTI-2 header parsing. nifti-reader-js reads the fields; this module checks the magic
 * and sizes, reads the sform rows itself (nifti-reader-js exposes them for NIfTI-1 only when it
 * prefers the sform) and returns one version-independent record.
 */
import * as nifti from 'nifti-reader-js';
import { MtDataError } from '../errors.js';
import { HEADER2_BYTES, HEADER_BYTES } from './format.js';

/** The header fields this project reads, whatever the NIfTI version. */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7]. */
  dims: number[];
  /** pixdim[0..7] (pixdim[0] is qfac). */
  pixdim: number[];
  datatypeCode: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  calMin: number;
  calMax: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z. */
  srow: number[][];
  xyztUnits: number;
  dimInfo: number;
  intentCode: number;
  intentName: string;
  description: string;
  auxFile: string;
  sliceCode: number;
  sliceStart: number;
  sliceEnd: number;
  sliceDuration: number;
  toffset: number;
}

function toArrayBuffer(bytes: Uint8Array, start: number, end: number): ArrayBuffer {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  return copy.buffer;
}

/** Bytes needed before the header can be parsed (the NIfTI-2 size; NIfTI-1 needs fewer). */
export const HEADER_PROBE_BYTES = HEADER2_BYTES + 4;

/** 1 or 2 when the bytes start with a NIfTI-1 / NIfTI-2 sizeof_hdr, else 0. */
function versionOf(view: DataView): { version: 0 | 1 | 2; littleEndian: boolean } {
  for (const le of [true, false]) {
    const size = view.byteLength >= 4 ? view.getInt32(0, le) : 0;
    if (size === HEADER_BYTES) return { version: 1, littleEndian: le };
    if (size === HEADER2_BYTES) return { version: 2, littleEndian: le };
  }
  return { version: 0, littleEndian: true };
}

const NOT_NIFTI_TODO = 'Check that the file is a NIfTI image (.nii or .nii.gz) and not another format renamed';

/** Parses the header at the start of `bytes` (already decompressed). `path` is for error messages. */
export function parseNiftiHeader(path: string, bytes: Uint8Array): NiftiHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { version, littleEndian } = versionOf(view);
  const chars = (from: number, n: number): string => String.fromCharCode(...bytes.subarray(from, from + n));
  if (version === 0) {
    const size = bytes.length >= 4 ? view.getInt32(0, true) : NaN;
    throw MtDataError.about(path, `not a NIfTI file (sizeof_hdr is ${size}; NIfTI-1 has 348, NIfTI-2 540)`, NOT_NIFTI_TODO);
  }
  const need = version === 1 ? HEADER_BYTES : HEADER2_BYTES;
  if (bytes.length < need) {
    throw MtDataError.about(path, `file is ${bytes.length} bytes, shorter than a NIfTI-${version} header (${need} bytes)`, 'The file is truncated; re-export it');
  }
  if (version === 1) {
    const magic = chars(344, 4);
    if (magic === 'ni1\0') {
      throw MtDataError.about(
        path,
        'this is the header of a .hdr/.img pair; only single-file NIfTI (.nii, .nii.gz) is supported',
        'Convert the pair to one .nii.gz file (e.g. nibabel or SimpleITK)',
      );
    }
    if (magic !== 'n+1\0') {
      throw MtDataError.about(path, `not a NIfTI-1 file (magic ${JSON.stringify(magic)} at byte 344; expected "n+1\\0")`, NOT_NIFTI_TODO);
    }
  } else {
    const magic = chars(4, 8);
    if (magic.startsWith('ni2')) {
      throw MtDataError.about(path, 'this is a NIfTI-2 .hdr/.img pair; only single-file NIfTI is supported', 'Convert the pair to one .nii.gz file (e.g. nibabel)');
    }
    if (magic !== 'n+2\0\r\n\x1a\n') {
      throw MtDataError.about(path, `not a NIfTI-2 file (magic ${JSON.stringify(magic)} at byte 4; expected "n+2\\0\\r\\n\\x1a\\n")`, NOT_NIFTI_TODO);
    }
  }
  const buf = toArrayBuffer(bytes, 0, need);
  let h: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    h = nifti.readHeader(buf) as nifti.NIFTI1 | nifti.NIFTI2;
  } catch (e) {
    throw MtDataError.about(path, `unreadable NIfTI-${version} header (${e instanceof Error ? e.message : String(e)})`, 'Re-export the file');
  }
  const srow: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(version === 1 ? view.getFloat32(280 + 16 * r + 4 * c, littleEndian) : view.getFloat64(400 + 32 * r + 8 * c, littleEndian));
    }
    srow.push(row);
  }
  const n2 = version === 2 ? (h as nifti.NIFTI2) : null;
  return {
    version,
    littleEndian,
    dims: [...h.dims].map(Number),
    pixdim: [...h.pixDims].map(Number),
    datatypeCode: h.datatypeCode,
    voxOffset: Number(h.vox_offset),
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    calMin: h.cal_min,
    calMax: h.cal_max,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    srow,
    xyztUnits: h.xyzt_units,
    dimInfo: h.dim_info,
    intentCode: h.intent_code,
    intentName: h.intent_name,
    description: h.description,
    auxFile: h.aux_file,
    sliceCode: h.slice_code,
    sliceStart: Number(n2 ? n2.slice_start : (h as nifti.NIFTI1).slice_start),
    sliceEnd: Number(n2 ? n2.slice_end : (h as nifti.NIFTI1).slice_end),
    sliceDuration: h.slice_duration,
    toffset: h.toffset,
  };
}
