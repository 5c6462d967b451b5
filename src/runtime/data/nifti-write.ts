/**
 * Writing NIfTI-1 single-file images (`.nii.gz`, or `.nii` when the path says so): 348-byte header,
 * a 4-byte empty extension flag, voxels from byte 352, little-endian, sform and qform both set
 * (code 1, scanner anatomical) from the given affine. Files are written atomically.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Vec3 } from '../../graph/types.js';
import { type Affine, affineToQuatern, diagonalAffine } from './affine.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MtDataError } from './errors.js';
import { DATATYPES, HEADER_BYTES, UNITS_MM, VOX_OFFSET } from './nifti-format.js';

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

/** Writes `volume` to `path` (gzipped unless the path ends in `.nii`), atomically. */
export async function writeNifti(path: string, volume: WritableVolume, options: WriteNiftiOptions): Promise<void> {
  const raw = encodeNifti(path, volume, options);
  const body = path.endsWith('.nii') ? raw : await gzipAsync(raw, { level: options.gzipLevel ?? 6 });
  await writeFileAtomic(path, body);
}
