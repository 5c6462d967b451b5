/**
 * Reading NIfTI-1 (`.nii`, `.nii.gz`) into `Volume`s. The header is parsed by nifti-reader-js; the
 * affine is chosen like nibabel's `get_best_affine` (sform when sform_code > 0, else qform when
 * qform_code > 0, else the pixdim diagonal) and computed here, because nifti-reader-js prefers the
 * qform whenever its code is higher than the sform's.
 */
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import type { Vec3 } from '../../graph/types.js';
import { type Affine, identityAffine, qformAffine } from './affine.js';
import { MtDataError } from './errors.js';
import {
  DATATYPES,
  HEADER_BYTES,
  type NiftiDatatype,
  UNITS_METER,
  UNITS_MICRON,
  UNSUPPORTED_DATATYPE_NAMES,
  datatypeFromCode,
} from './nifti-format.js';
import type { Volume } from './types.js';

const gunzipAsync = promisify(gunzip);
const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/** Everything needed to interpret a volume in world space and to write a result with the same geometry. */
export interface NiftiGeometry {
  /** [z, y, x] voxels. */
  shape: Vec3;
  /** [z, y, x] mm: |pixdim[3]|, |pixdim[2]|, |pixdim[1]| (converted to mm when xyzt_units says m or µm). */
  spacing: Vec3;
  /** Voxel (x, y, z) to world RAS+ mm, 4x4 row-major. */
  affine: Affine;
  affineSource: 'sform' | 'qform' | 'pixdim';
  qformCode: number;
  sformCode: number;
  /** The datatype stored on disk. */
  datatype: NiftiDatatype;
  /** Intensity scaling applied on reading (identity when the header has none). */
  sclSlope: number;
  sclInter: number;
}

export interface NiftiImage {
  volume: Volume<Float32Array>;
  geometry: NiftiGeometry;
}

export interface NiftiLabel {
  volume: Volume<Uint8Array>;
  geometry: NiftiGeometry;
}

export interface ReadOptions {
  /** Reject NaN or infinite voxels (default true: CT intensities must be finite). */
  rejectNonFinite?: boolean;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

async function decompress(path: string, bytes: Uint8Array): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    const out = await gunzipAsync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw MtDataError.about(
      path,
      `cannot decompress: the gzip stream is truncated or corrupt (${reason})`,
      'Re-export or re-copy the file; `gzip -t FILE` checks a .gz file',
    );
  }
}

function toArrayBuffer(bytes: Uint8Array, start: number, end: number): ArrayBuffer {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  return copy.buffer;
}

/** Checks magic and sizeof_hdr, then parses the 348-byte header. */
function parseHeader(path: string, bytes: Uint8Array): nifti.NIFTI1 {
  if (bytes.length < HEADER_BYTES) {
    throw MtDataError.about(
      path,
      `file is ${bytes.length} bytes, shorter than a NIfTI-1 header (348 bytes)`,
      'The file is truncated or not NIfTI; re-export it',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizeLE = view.getInt32(0, true);
  const sizeBE = view.getInt32(0, false);
  if (sizeLE === 540 || sizeBE === 540) {
    throw MtDataError.about(
      path,
      'this is a NIfTI-2 file; only NIfTI-1 is supported',
      'Convert it, e.g. with nibabel: nib.save(nib.Nifti1Image(img.get_fdata(), img.affine), "out.nii.gz")',
    );
  }
  const magic = String.fromCharCode(bytes[344], bytes[345], bytes[346]);
  if (magic === 'ni1') {
    throw MtDataError.about(
      path,
      'this is the header of a .hdr/.img pair; only single-file NIfTI (.nii, .nii.gz) is supported',
      'Convert the pair to one .nii.gz file (e.g. nibabel or SimpleITK)',
    );
  }
  if (magic !== 'n+1' || (sizeLE !== HEADER_BYTES && sizeBE !== HEADER_BYTES)) {
    const shown = JSON.stringify(String.fromCharCode(bytes[344], bytes[345], bytes[346], bytes[347]));
    throw MtDataError.about(
      path,
      `not a NIfTI-1 file (magic ${shown} at byte 344, sizeof_hdr ${sizeLE}; expected "n+1\\0" and 348)`,
      'Check that the file is a NIfTI image (.nii or .nii.gz) and not another format renamed',
    );
  }
  return nifti.readHeader(toArrayBuffer(bytes, 0, Math.min(bytes.length, 352))) as nifti.NIFTI1;
}

/** srow_x/y/z from the raw header bytes (nifti-reader-js only exposes them when it picks the sform). */
function sformAffine(bytes: Uint8Array, littleEndian: boolean): Affine {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = identityAffine();
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) out[r][c] = view.getFloat32(280 + 16 * r + 4 * c, littleEndian);
  return out;
}

function spatialUnitScale(xyztUnits: number): number {
  const spatial = xyztUnits & 7;
  if (spatial === UNITS_METER) return 1000;
  if (spatial === UNITS_MICRON) return 0.001;
  return 1; // mm, or unknown (treated as mm like nibabel and nnU-Net do)
}

function geometryOf(path: string, header: nifti.NIFTI1, bytes: Uint8Array): NiftiGeometry {
  const dims = header.dims;
  const ndim = dims[0];
  if (!(ndim >= 1 && ndim <= 7)) {
    throw MtDataError.about(path, `header dim[0] is ${ndim}, not 1..7`, 'The header is corrupt; re-export the file');
  }
  for (let i = 1; i <= ndim; i++) {
    if (!(dims[i] >= 1)) {
      throw MtDataError.about(path, `header dim[${i}] is ${dims[i]}; every dimension must be >= 1`, 'The header is corrupt; re-export the file');
    }
  }
  const extra = dims.slice(4, ndim + 1).filter((d) => d > 1);
  if (ndim > 3 && extra.length > 0) {
    throw MtDataError.about(
      path,
      `image is ${ndim}-D (dims ${dims.slice(1, ndim + 1).join('x')}); only 3-D volumes are supported`,
      'Store each channel or time point as its own file (nnU-Net: CASE_0000.nii.gz, CASE_0001.nii.gz, ...)',
    );
  }
  const nx = dims[1];
  const ny = ndim >= 2 ? dims[2] : 1;
  const nz = ndim >= 3 ? dims[3] : 1;
  const datatype = datatypeFromCode(header.datatypeCode);
  if (!datatype) {
    const name = UNSUPPORTED_DATATYPE_NAMES[header.datatypeCode] ?? `code ${header.datatypeCode}`;
    throw MtDataError.about(
      path,
      `voxel datatype ${name} is not supported (supported: ${Object.keys(DATATYPES).join(', ')})`,
      'Convert the file, e.g. with nibabel: img.set_data_dtype(np.float32) and save it again',
    );
  }
  const unit = spatialUnitScale(header.xyzt_units);
  const pix = header.pixDims;
  const sp = (v: number): number => Math.abs(v) * unit;
  const spacing: Vec3 = [ndim >= 3 ? sp(pix[3]) : 1, ndim >= 2 ? sp(pix[2]) : 1, sp(pix[1])];
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw MtDataError.about(
      path,
      `voxel spacing (pixdim) is ${JSON.stringify(spacing)} mm [z,y,x]; it must be positive and finite`,
      'Fix the header (pixdim[1..3]) with nibabel: img.header.set_zooms((sx, sy, sz))',
    );
  }

  let affine: Affine;
  let affineSource: NiftiGeometry['affineSource'];
  if (header.sform_code > 0) {
    affine = sformAffine(bytes, header.littleEndian);
    affineSource = 'sform';
  } else if (header.qform_code > 0) {
    const qfac = pix[0] === -1 ? -1 : 1;
    affine = qformAffine({
      b: header.quatern_b,
      c: header.quatern_c,
      d: header.quatern_d,
      qfac,
      pixdim: [Math.abs(pix[1]), Math.abs(pix[2]), Math.abs(pix[3])],
      offset: [header.qoffset_x, header.qoffset_y, header.qoffset_z],
    });
    affineSource = 'qform';
  } else {
    affine = identityAffine();
    affine[0][0] = spacing[2] / unit;
    affine[1][1] = spacing[1] / unit;
    affine[2][2] = spacing[0] / unit;
    affineSource = 'pixdim';
  }
  if (unit !== 1) for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) affine[r][c] *= unit;
  if (affine.some((row) => row.some((v) => !Number.isFinite(v)))) {
    throw MtDataError.about(path, `the ${affineSource} affine holds non-finite numbers`, 'Fix the header transform (sform/qform) and save the file again');
  }

  let slope = header.scl_slope;
  let inter = header.scl_inter;
  if (!Number.isFinite(slope) || slope === 0) {
    slope = 1;
    inter = 0;
  } else if (!Number.isFinite(inter)) {
    inter = 0;
  }
  return {
    shape: [nz, ny, nx],
    spacing,
    affine,
    affineSource,
    qformCode: header.qform_code,
    sformCode: header.sform_code,
    datatype,
    sclSlope: slope,
    sclInter: inter,
  };
}

/** Where the voxel block lies; throws when the file is too short for the header's dims. */
function voxelBlock(path: string, header: nifti.NIFTI1, geometry: NiftiGeometry, bytes: Uint8Array): { offset: number; count: number; need: number } {
  const [nz, ny, nx] = geometry.shape;
  const count = nx * ny * nz;
  const info = DATATYPES[geometry.datatype];
  const offset = Math.max(Math.round(header.vox_offset), HEADER_BYTES);
  const need = offset + count * info.bytes;
  if (bytes.length < need) {
    throw MtDataError.about(
      path,
      `header says ${nx}x${ny}x${nz} voxels of ${geometry.datatype} (${count * info.bytes} bytes from offset ${offset}), ` +
        `but the file holds only ${Math.max(0, bytes.length - offset)} bytes of voxel data`,
      'The file is truncated or its header dims are wrong; re-export it',
    );
  }
  return { offset, count, need };
}

/** Decodes the voxel block into float32 with scl_slope/scl_inter applied. */
function decodeVoxels(path: string, header: nifti.NIFTI1, geometry: NiftiGeometry, bytes: Uint8Array): Float32Array {
  const { offset, count, need } = voxelBlock(path, header, geometry, bytes);
  const info = DATATYPES[geometry.datatype];
  const out = new Float32Array(count);
  const le = header.littleEndian;
  if (le === HOST_LITTLE_ENDIAN) {
    const buf = toArrayBuffer(bytes, offset, need);
    let src: ArrayLike<number>;
    switch (geometry.datatype) {
      case 'uint8': src = new Uint8Array(buf); break;
      case 'int8': src = new Int8Array(buf); break;
      case 'int16': src = new Int16Array(buf); break;
      case 'uint16': src = new Uint16Array(buf); break;
      case 'int32': src = new Int32Array(buf); break;
      case 'float32': src = new Float32Array(buf); break;
      case 'float64': src = new Float64Array(buf); break;
    }
    out.set(src);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * info.bytes);
    const get: (i: number) => number = {
      uint8: (i: number) => view.getUint8(i),
      int8: (i: number) => view.getInt8(i),
      int16: (i: number) => view.getInt16(2 * i, le),
      uint16: (i: number) => view.getUint16(2 * i, le),
      int32: (i: number) => view.getInt32(4 * i, le),
      float32: (i: number) => view.getFloat32(4 * i, le),
      float64: (i: number) => view.getFloat64(8 * i, le),
    }[geometry.datatype];
    for (let i = 0; i < count; i++) out[i] = get(i);
  }
  if (geometry.sclSlope !== 1 || geometry.sclInter !== 0) {
    const s = geometry.sclSlope;
    const b = geometry.sclInter;
    for (let i = 0; i < count; i++) out[i] = out[i] * s + b;
  }
  return out;
}

function unravel(i: number, shape: Vec3): Vec3 {
  const x = i % shape[2];
  const y = Math.floor(i / shape[2]) % shape[1];
  const z = Math.floor(i / (shape[1] * shape[2]));
  return [z, y, x];
}

function checkFinite(path: string, data: Float32Array, shape: Vec3): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    throw MtDataError.about(
      path,
      `${bad} voxel(s) are NaN or infinite (first at voxel [z,y,x] ${JSON.stringify(unravel(first, shape))})`,
      'Replace them before use (for CT, e.g. with -1024 HU: np.nan_to_num(data, nan=-1024)) and save the file again',
    );
  }
}

interface Decoded {
  header: nifti.NIFTI1;
  geometry: NiftiGeometry;
  bytes: Uint8Array;
}

async function decode(path: string, raw: Uint8Array): Promise<Decoded> {
  const bytes = await decompress(path, raw);
  const header = parseHeader(path, bytes);
  return { header, geometry: geometryOf(path, header, bytes), bytes };
}

function toImage(path: string, d: Decoded, options: ReadOptions): NiftiImage {
  const data = decodeVoxels(path, d.header, d.geometry, d.bytes);
  const integer = d.geometry.datatype !== 'float32' && d.geometry.datatype !== 'float64';
  // integer voxels with a finite slope/intercept cannot be NaN/infinite (scl fields are finite here)
  if ((options.rejectNonFinite ?? true) && !integer) checkFinite(path, data, d.geometry.shape);
  return { volume: { data, shape: d.geometry.shape, spacing: d.geometry.spacing }, geometry: d.geometry };
}

/** Parses an in-memory NIfTI-1 file (gzipped or not). `path` is only used in error messages. */
export async function parseNifti(path: string, raw: Uint8Array, options: ReadOptions = {}): Promise<NiftiImage> {
  return toImage(path, await decode(path, raw), options);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw MtDataError.about(path, 'file not found', 'Check the path and the dataset layout');
    throw MtDataError.about(path, `cannot read the file (${code ?? String(e)})`, 'Check permissions and that the disk is readable');
  }
}

/** Reads a NIfTI-1 image as float32 intensities (scaling applied), [z, y, x] C order. */
export async function readNifti(path: string, options: ReadOptions = {}): Promise<NiftiImage> {
  return parseNifti(path, await readBytes(path), options);
}

/**
 * Reads a label map: every voxel must be an integer in 0..255 (any stored datatype is accepted as long
 * as the values are). Returns uint8 voxels.
 */
export async function readNiftiLabel(path: string): Promise<NiftiLabel> {
  const d = await decode(path, await readBytes(path));
  const g = d.geometry;
  if (g.datatype === 'uint8' && g.sclSlope === 1 && g.sclInter === 0) {
    // the common case: stored uint8 values are the labels; copy them as they are
    const { offset, count } = voxelBlock(path, d.header, g, d.bytes);
    const data = d.bytes.slice(offset, offset + count);
    return { volume: { data, shape: g.shape, spacing: g.spacing }, geometry: g };
  }
  const { volume, geometry } = toImage(path, d, {});
  const src = volume.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (!(v >= 0 && v <= 255 && Math.round(v) === v)) {
      throw MtDataError.about(
        path,
        `label map holds the value ${v} at voxel [z,y,x] ${JSON.stringify(unravel(i, volume.shape))}; labels must be integers 0..255`,
        'Check that this is a segmentation (not an image) and that it was saved without interpolation or scaling',
      );
    }
    out[i] = v;
  }
  return { volume: { data: out, shape: volume.shape, spacing: volume.spacing }, geometry };
}

/** Reads only the header (reading and decompressing just the first 64 KiB), e.g. to check shapes cheaply. */
export async function readNiftiHeader(path: string): Promise<NiftiGeometry> {
  let head: Uint8Array;
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const buf = new Uint8Array(65536);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw MtDataError.about(path, 'file not found', 'Check the path and the dataset layout');
    throw MtDataError.about(path, `cannot read the file (${code ?? String(e)})`, 'Check permissions and that the disk is readable');
  } finally {
    await handle?.close();
  }
  if (isGzip(head)) {
    try {
      // Z_SYNC_FLUSH: return what the partial stream decodes to instead of failing at its cut end.
      head = new Uint8Array(gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH }));
    } catch (e) {
      throw MtDataError.about(
        path,
        `cannot decompress: the gzip stream is corrupt (${e instanceof Error ? e.message : String(e)})`,
        'Re-export or re-copy the file; `gzip -t FILE` checks a .gz file',
      );
    }
  }
  const header = parseHeader(path, head);
  return geometryOf(path, header, head);
}
