/**
 * Writing NIfTI-1 single-file images (`.nii.gz`, or `.nii` when the path says so): 348-byte header,
 * a 4-byte empty extension flag, voxels from byte 352, little-endian, sform and qform both set
 * (code 1, scanner anatomical) from the given affine. Files are written atomically.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Vec3 } from '../../../graph/types.js';
import { type Affine, affineToQuatern, diagonalAffine } from './affine.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { MtDataError } from '../errors.js';
import { DATATYPES, HEADER_BYTES, UNITS_MM, VOX_OFFSET } from './format.js';
import type { NiftiGeometry } from './read.js';
import { inverseOrientation, reorientArray, reorientedShape } from './orientation.js';

const gzipAsync = promisify(gzip);

export type WritableDatatype = 'uint8' | 'int16' | 'float32';

export interface WriteNiftiOptions {
  datatype: WritableDatatype;
  /** Voxel-to-world affine; default: diagonal with the volume spacing, origin 0. */
  affine?: Affine;
  /** Free text stored in the header's `descrip` (at most 79 ASCII characters kept). */
  description?: string;
  /** gzip level 1..9 (default 6); ignored for `.nii`. */
  gzipLevel?: number;
}

export interface WritableVolume {
  data: ArrayLike<number>;
  shape: Vec3;
  spacing: Vec3;
}

const RANGES: Record<WritableDatatype, [number, number]> = {
  uint8: [0, 255],
  int16: [-32768, 32767],
  float32: [-3.4028234663852886e38, 3.4028234663852886e38],
};

function writeAscii(view: DataView, offset: number, text: string, max: number): void {
  for (let i = 0; i < Math.min(text.length, max - 1); i++) {
    const code = text.charCodeAt(i);
    view.setUint8(offset + i, code < 128 ? code : 63);
  }
}

/** Builds the 352 header+extension-flag bytes. */
export function buildNiftiHeader(shape: Vec3, spacing: Vec3, affine: Affine, datatype: WritableDatatype, description = ''): Uint8Array {
  const bytes = new Uint8Array(VOX_OFFSET);
  const v = new DataView(bytes.buffer);
  const le = true;
  const [nz, ny, nx] = shape;
  const q = affineToQuatern(affine);
  v.setInt32(0, HEADER_BYTES, le);
  v.setUint8(38, 'r'.charCodeAt(0));
  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, DATATYPES[datatype].code, le);
  v.setInt16(72, DATATYPES[datatype].bytes * 8, le);
  // pixdim: qfac, then the voxel sizes; the spacing given with the volume is authoritative for pixdim.
  const pixdim = [q.qfac, spacing[2], spacing[1], spacing[0], 1, 1, 1, 1];
  pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, VOX_OFFSET, le);
  v.setFloat32(112, 1, le); // scl_slope 1, scl_inter 0: stored values are the values
  v.setFloat32(116, 0, le);
  v.setUint8(123, UNITS_MM);
  writeAscii(v, 148, description, 80);
  v.setInt16(252, 1, le); // qform_code: scanner anatomical
  v.setInt16(254, 1, le); // sform_code: scanner anatomical
  v.setFloat32(256, q.b, le);
  v.setFloat32(260, q.c, le);
  v.setFloat32(264, q.d, le);
  v.setFloat32(268, q.offset[0], le);
  v.setFloat32(272, q.offset[1], le);
  v.setFloat32(276, q.offset[2], le);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, affine[r][c], le);
  writeAscii(v, 344, 'n+1', 4);
  // bytes 348..351: extension flag, all zero (no extensions)
  return bytes;
}

/** Encodes voxels to the datatype; rejects values the datatype cannot hold instead of wrapping them. */
function encodeVoxels(path: string, data: ArrayLike<number>, datatype: WritableDatatype): Uint8Array {
  const n = data.length;
  const [lo, hi] = RANGES[datatype];
  const integer = datatype !== 'float32';
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (!Number.isFinite(x) || x < lo || x > hi || (integer && Math.round(x) !== x)) {
      throw MtDataError.about(
        path,
        `cannot store voxel ${i} = ${x} as ${datatype}${integer ? ` (integers ${lo}..${hi})` : ''}`,
        integer ? 'Round and clip the data first, or write it as float32' : 'Replace NaN/infinite values before writing',
      );
    }
  }
  let typed: Uint8Array | Int16Array | Float32Array;
  if (datatype === 'uint8') typed = new Uint8Array(n);
  else if (datatype === 'int16') typed = new Int16Array(n);
  else typed = new Float32Array(n);
  typed.set(data);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** The complete file bytes (uncompressed). Little-endian hosts only need no byte swapping. */
export function encodeNifti(path: string, volume: WritableVolume, options: WriteNiftiOptions): Uint8Array {
  const [nz, ny, nx] = volume.shape;
  if (volume.data.length !== nx * ny * nz) {
    throw MtDataError.about(
      path,
      `volume data holds ${volume.data.length} voxels but its shape ${volume.shape.join('x')} [z,y,x] needs ${nx * ny * nz}`,
      'This is a bug in the caller; report it with the command you ran',
    );
  }
  if (volume.shape.some((d) => !(d >= 1 && d <= 32767 && Number.isInteger(d)))) {
    throw MtDataError.about(path, `shape ${volume.shape.join('x')} cannot be stored in NIfTI-1 (each dim 1..32767)`, 'Crop or downsample the volume');
  }
  const affine = options.affine ?? diagonalAffine(volume.spacing);
  let header: Uint8Array;
  try {
    header = buildNiftiHeader(volume.shape, volume.spacing, affine, options.datatype, options.description);
  } catch (e) {
    throw MtDataError.about(path, `invalid affine (${e instanceof Error ? e.message : String(e)})`, 'Pass the affine read from the source image');
  }
  const voxels = encodeVoxels(path, volume.data, options.datatype);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw MtDataError.about(path, 'writing NIfTI on a big-endian host is not supported', 'Run on a little-endian machine (x86-64, arm64)');
  }
  const out = new Uint8Array(header.length + voxels.length);
  out.set(header, 0);
  out.set(voxels, header.length);
  return out;
}

export interface WriteLikeOptions {
  datatype: WritableDatatype;
  /** Voxel order of `data`: 'stored' (the reference file's order, default) or 'ras' (the internal convention; turned back). */
  orientation?: 'stored' | 'ras';
  /** Replaces the reference's `descrip` when given. */
  description?: string;
  gzipLevel?: number;
}

/**
 * Header of a result that keeps the reference file's geometry and header fields: dims (3-D),
 * pixdim (qfac and voxel sizes), xyzt_units, qform/sform codes, quaternion, offsets and srow as
 * stored, dim_info, intent, slice fields, toffset, descrip, aux_file. Changed: datatype/bitpix,
 * scl_slope 1 and scl_inter 0 (values are stored as they are), cal_min/max 0, vox_offset 352,
 * magic n+1 (a NIfTI-2 reference yields a NIfTI-1 file with the same fields).
 */
export function buildNiftiHeaderLike(reference: NiftiGeometry, datatype: WritableDatatype, description?: string): Uint8Array {
  const h = reference.header;
  const bytes = new Uint8Array(VOX_OFFSET);
  const v = new DataView(bytes.buffer);
  const le = true;
  const [nz, ny, nx] = reference.shape;
  v.setInt32(0, HEADER_BYTES, le);
  v.setUint8(38, 'r'.charCodeAt(0));
  v.setUint8(39, h.dimInfo & 0xff);
  [3, nx, ny, nz, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setFloat32(56, 0, le);
  v.setInt16(68, h.intentCode, le);
  v.setInt16(70, DATATYPES[datatype].code, le);
  v.setInt16(72, DATATYPES[datatype].bytes * 8, le);
  v.setInt16(74, h.sliceStart, le);
  const qfac = h.pixdim[0] === -1 ? -1 : 1;
  [qfac, h.pixdim[1], h.pixdim[2], h.pixdim[3], 1, 1, 1, 1].forEach((p, i) => v.setFloat32(76 + 4 * i, i > 0 && i <= 3 ? Math.abs(p) || 1 : p, le));
  v.setFloat32(108, VOX_OFFSET, le);
  v.setFloat32(112, 1, le);
  v.setFloat32(116, 0, le);
  v.setInt16(120, h.sliceEnd, le);
  v.setUint8(122, h.sliceCode & 0xff);
  v.setUint8(123, h.xyztUnits & 0xff);
  v.setFloat32(132, h.sliceDuration, le);
  v.setFloat32(136, h.toffset, le);
  writeAscii(v, 148, description ?? h.description, 80);
  writeAscii(v, 228, h.auxFile, 24);
  v.setInt16(252, h.qformCode, le);
  v.setInt16(254, h.sformCode, le);
  h.quatern.forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
  h.qoffset.forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, h.srow[r][c], le);
  writeAscii(v, 328, h.intentName, 16);
  writeAscii(v, 344, 'n+1', 4);
  return bytes;
}

/**
 * Writes a result (e.g. a prediction) with the geometry and header fields of the image it was
 * computed from, so viewers overlay it exactly and nibabel reports the same affine. `data` is in the
 * reference's stored voxel order, or in the internal RAS order with `orientation: 'ras'`.
 */
export async function writeNiftiLike(path: string, data: ArrayLike<number> & { length: number }, reference: NiftiGeometry, options: WriteLikeOptions): Promise<void> {
  const stored = reference.shape;
  const n = stored[0] * stored[1] * stored[2];
  if (data.length !== n) {
    throw MtDataError.about(path, `result holds ${data.length} voxels but the reference image has ${stored.join('x')} [z,y,x] = ${n}`, 'Resample the result back to the input grid before writing');
  }
  if (stored.some((d) => d > 32767)) throw MtDataError.about(path, `shape ${stored.join('x')} cannot be stored in NIfTI-1 (each dim 1..32767)`, 'Crop the volume');
  let voxels: ArrayLike<number> = data;
  if (options.orientation === 'ras') {
    const inv = inverseOrientation(reference.orientation);
    const canonShape = reorientedShape(stored, reference.orientation);
    const typed = data instanceof Float32Array || data instanceof Uint8Array ? data : Float32Array.from(data);
    voxels = reorientArray(typed, canonShape, inv);
  }
  const header = buildNiftiHeaderLike(reference, options.datatype, options.description);
  const body = encodeVoxels(path, voxels, options.datatype);
  const raw = new Uint8Array(header.length + body.length);
  raw.set(header, 0);
  raw.set(body, header.length);
  const out = path.endsWith('.nii') ? raw : await gzipAsync(raw, { level: options.gzipLevel ?? 6 });
  await writeFileAtomic(path, out);
}

/** Writes `volume` to `path` (gzipped unless the path ends in `.nii`), atomically. */
export async function writeNifti(path: string, volume: WritableVolume, options: WriteNiftiOptions): Promise<void> {
  const raw = encodeNifti(path, volume, options);
  const body = path.endsWith('.nii') ? raw : await gzipAsync(raw, { level: options.gzipLevel ?? 6 });
  await writeFileAtomic(path, body);
}
