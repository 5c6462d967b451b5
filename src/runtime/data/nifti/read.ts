/**
 * Reading NIfTI-1 and NIfTI-2 (`.nii`, `.nii.gz`) into `Volume`s.
 *
 * Files are streamed: the gzip stream is inflated chunk by chunk and each chunk's voxels are
 * converted straight into the output array, so reading never holds the compressed file, the
 * inflated bytes and the result at once (peak ≈ the float32 result plus one chunk).
 *
 * Interpretation follows nibabel: affine = sform when sform_code != 0, else qform when
 * qform_code != 0, else nibabel's base affine (pixdim diagonal, x flipped, centred); spacing =
 * |pixdim[1..3]|; scl_slope/scl_inter applied unless the slope is 0 or not finite. Units are not
 * converted (like nibabel and nnU-Net): spacing and affine are in the file's units, nominally mm.
 *
 * Voxel order: by default the stored order ([z, y, x] C order, x fastest — NIfTI's on-disk order);
 * with `orientation: 'ras'` the closest canonical RAS+ order, the project's internal convention
 * (see orientation.ts and docs/data.md).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Vec3 } from '../../../graph/types.js';
import { type Affine, identityAffine, qformAffine } from './affine.js';
import { MtDataError } from '../errors.js';
import { DATATYPES, type NiftiDatatype, UNSUPPORTED_DATATYPE_NAMES, datatypeFromCode } from './format.js';
import { HEADER_PROBE_BYTES, type NiftiHeader, parseNiftiHeader } from './header.js';
import {
  type Orientation,
  ioOrientation,
  orientationCode,
  reorientArray,
  reorientedAffine,
  reorientedShape,
  reorientedSpacing,
} from './orientation.js';
import type { Volume } from '../types.js';

export type { NiftiHeader } from './header.js';
const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/** Everything needed to interpret a volume in world space and to write a result with the same geometry. */
export interface NiftiGeometry {
  /** [z, y, x] voxels as stored in the file. */
  shape: Vec3;
  /** [z, y, x]: |pixdim[3]|, |pixdim[2]|, |pixdim[1]| (file units, nominally mm). */
  spacing: Vec3;
  /** Voxel (x, y, z) to world, 4x4 row-major, exactly as nibabel's `img.affine`. */
  affine: Affine;
  affineSource: 'sform' | 'qform' | 'pixdim';
  qformCode: number;
  sformCode: number;
  /** The datatype stored on disk. */
  datatype: NiftiDatatype;
  /** Intensity scaling applied on reading (identity when the header has none). */
  sclSlope: number;
  sclInter: number;
  /** NIfTI version of the file. */
  version: 1 | 2;
  /** Number of 3-D volumes (product of dim[4..7]); 1 for a 3-D image. */
  frames: number;
  /** dim[1..dim[0]] as stored (x first), e.g. [512, 512, 120] or [64, 64, 30, 4]. */
  dims: number[];
  /** Voxel-axis orientation (nibabel's io_orientation) and its code, e.g. 'RAS', 'LPS'. */
  orientation: Orientation;
  orientationCode: string;
  /** Spatial unit code from xyzt_units (0 unknown, 1 m, 2 mm, 3 µm); values are not converted. */
  spatialUnits: number;
  /** All header fields, for writing a result with the same header (see writeNiftiLike). */
  header: NiftiHeader;
}

export interface NiftiImage {
  volume: Volume<Float32Array>;
  geometry: NiftiGeometry;
  /** Affine of `volume` (equals geometry.affine in stored order; the reoriented one with orientation 'ras'). */
  affine: Affine;
}

export interface NiftiLabel {
  volume: Volume<Uint8Array>;
  geometry: NiftiGeometry;
  affine: Affine;
}

export interface ReadOptions {
  /** Reject NaN or infinite voxels (default true: CT intensities must be finite). */
  rejectNonFinite?: boolean;
  /**
   * Which 3-D volume of a 4-D file to read (0-based), or 'all' (the result then holds `frames`
   * volumes one after the other). Default: a file with several volumes is refused.
   */
  frame?: number | 'all';
  /** Voxel order of the result: 'stored' (default) or 'ras', the internal convention. */
  orientation?: 'stored' | 'ras';
}

const REEXPORT = 'The file is truncated or its header dims are wrong; re-export it';

function unravel(i: number, shape: Vec3): Vec3 {
  const x = i % shape[2];
  const y = Math.floor(i / shape[2]) % shape[1];
  const z = Math.floor(i / (shape[1] * shape[2])) % shape[0];
  return [z, y, x];
}

function baseAffine(shapeXyz: number[], zoomsXyz: number[]): Affine {
  // nibabel's shape_zoom_affine(shape, zooms, x_flip=True)
  const a = identityAffine();
  for (let i = 0; i < 3; i++) {
    const z = i === 0 ? -zoomsXyz[i] : zoomsXyz[i];
    a[i][i] = z;
    a[i][3] = (-(shapeXyz[i] - 1) / 2) * z;
  }
  return a;
}

/** Geometry from a parsed header; throws on values that make the file unusable. */
export function geometryFromHeader(path: string, h: NiftiHeader): NiftiGeometry {
  const dims = h.dims;
  const ndim = dims[0];
  if (!(ndim >= 1 && ndim <= 7)) {
    throw MtDataError.about(path, `header dim[0] is ${ndim}, not 1..7`, 'The header is corrupt; re-export the file');
  }
  for (let i = 1; i <= ndim; i++) {
    if (!(dims[i] >= 1) || !Number.isSafeInteger(dims[i])) {
      throw MtDataError.about(path, `header dim[${i}] is ${dims[i]}; every dimension must be >= 1`, 'The header is corrupt; re-export the file');
    }
  }
  const nx = dims[1];
  const ny = ndim >= 2 ? dims[2] : 1;
  const nz = ndim >= 3 ? dims[3] : 1;
  let frames = 1;
  for (let i = 4; i <= ndim; i++) frames *= dims[i];
  const datatype = datatypeFromCode(h.datatypeCode);
  if (!datatype) {
    const name = UNSUPPORTED_DATATYPE_NAMES[h.datatypeCode] ?? `code ${h.datatypeCode}`;
    throw MtDataError.about(
      path,
      `voxel datatype ${name} is not supported (supported: ${Object.keys(DATATYPES).join(', ')})`,
      'Convert the file, e.g. with nibabel: img.set_data_dtype(np.float32) and save it again',
    );
  }
  const pix = h.pixdim;
  const zooms = [1, 2, 3].map((i) => (i <= ndim ? Math.abs(pix[i]) : 1));
  const spacing: Vec3 = [zooms[2], zooms[1], zooms[0]];
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw MtDataError.about(
      path,
      `voxel spacing (pixdim) is ${JSON.stringify(spacing)} [z,y,x]; it must be positive and finite`,
      'Fix the header (pixdim[1..3]) with nibabel: img.header.set_zooms((sx, sy, sz))',
    );
  }
  let affine: Affine;
  let affineSource: NiftiGeometry['affineSource'];
  if (h.sformCode !== 0) {
    affine = [...h.srow.map((r) => [...r]), [0, 0, 0, 1]];
    affineSource = 'sform';
  } else if (h.qformCode !== 0) {
    affine = qformAffine({
      b: h.quatern[0],
      c: h.quatern[1],
      d: h.quatern[2],
      qfac: pix[0] === -1 ? -1 : 1,
      pixdim: [zooms[0], zooms[1], zooms[2]],
      offset: [...h.qoffset],
    });
    affineSource = 'qform';
  } else {
    affine = baseAffine([nx, ny, nz], zooms);
    affineSource = 'pixdim';
  }
  if (affine.some((row) => row.some((v) => !Number.isFinite(v)))) {
    throw MtDataError.about(path, `the ${affineSource} affine holds non-finite numbers`, 'Fix the header transform (sform/qform) and save the file again');
  }
  let slope = h.sclSlope;
  let inter = h.sclInter;
  if (!Number.isFinite(slope) || slope === 0) {
    slope = 1;
    inter = 0;
  } else if (!Number.isFinite(inter)) {
    inter = 0;
  }
  const orientation = ioOrientation(affine);
  return {
    shape: [nz, ny, nx],
    spacing,
    affine,
    affineSource,
    qformCode: h.qformCode,
    sformCode: h.sformCode,
    datatype,
    sclSlope: slope,
    sclInter: inter,
    version: h.version,
    frames,
    dims: dims.slice(1, ndim + 1),
    orientation,
    orientationCode: orientationCode(orientation),
    spatialUnits: h.xyztUnits & 7,
    header: h,
  };
}

function fileError(path: string, e: unknown): MtDataError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return MtDataError.about(path, 'file not found', 'Check the path and the dataset layout');
  if (code === 'EISDIR') return MtDataError.about(path, 'is a folder, not a NIfTI file', 'Pass the .nii or .nii.gz file itself');
  return MtDataError.about(path, `cannot read the file (${code ?? String(e)})`, 'Check permissions and that the disk is readable');
}

function gzipError(path: string, e: unknown): MtDataError {
  const reason = e instanceof Error ? e.message : String(e);
  return MtDataError.about(path, `cannot decompress: the gzip stream is truncated or corrupt (${reason})`, 'Re-export or re-copy the file; `gzip -t FILE` checks a .gz file');
}

async function isGzipFile(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
    const b = new Uint8Array(2);
    const { bytesRead } = await handle.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } catch (e) {
    throw fileError(path, e);
  } finally {
    await handle?.close();
  }
}

/** Where bytes come from: a file, or (for parseNifti) bytes in memory named by `path` in messages. */
type Source = { path: string; bytes?: Uint8Array };

/** The decompressed byte stream of a file; stream errors become MtDataErrors when iterated. */
async function byteStream(src: Source): Promise<{ stream: Readable; gz: boolean; size: number }> {
  const { path, bytes } = src;
  const gz = bytes ? bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b : await isGzipFile(path);
  let size: number;
  try {
    size = bytes ? bytes.length : (await stat(path)).size;
  } catch (e) {
    throw fileError(path, e);
  }
  const file = bytes ? Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]) : createReadStream(path, { highWaterMark: 1 << 20 });
  if (!gz) return { stream: file, gz, size };
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  file.on('error', (e: Error) => gunzip.destroy(e));
  return { stream: file.pipe(gunzip), gz, size };
}

/** The most a deflate stream expands (1032:1), so a gzip file of M bytes holds at most ~1032 M bytes. */
const DEFLATE_MAX_RATIO = 1032;

/** The header claims more voxel bytes than the file holds. */
function claimError(path: string, g: NiftiGeometry, start: number, end: number, held: number): MtDataError {
  return MtDataError.about(
    path,
    `header says ${g.dims.join('x')} voxels of ${g.datatype} (${end - start} bytes from offset ${Math.max(0, start)}), but the file holds only ${held} bytes of voxel data`,
    REEXPORT,
  );
}

/** Converts whole elements from an aligned buffer into `out` starting at `k`. */
type Sink = (bytes: Uint8Array, k: number) => void;

function elementReader(datatype: NiftiDatatype, littleEndian: boolean): (bytes: Uint8Array) => ArrayLike<number | bigint> {
  const swap = littleEndian !== HOST_LITTLE_ENDIAN;
  const size = DATATYPES[datatype].bytes;
  return (bytes) => {
    if (swap && size > 1) {
      for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
    }
    const b = bytes.buffer;
    const o = bytes.byteOffset;
    const n = bytes.length / size;
    switch (datatype) {
      case 'uint8': return new Uint8Array(b, o, n);
      case 'int8': return new Int8Array(b, o, n);
      case 'int16': return new Int16Array(b, o, n);
      case 'uint16': return new Uint16Array(b, o, n);
      case 'int32': return new Int32Array(b, o, n);
      case 'uint32': return new Uint32Array(b, o, n);
      case 'int64': return new BigInt64Array(b, o, n);
      case 'float32': return new Float32Array(b, o, n);
      case 'float64': return new Float64Array(b, o, n);
    }
  };
}

interface StreamResult {
  header: NiftiHeader;
  geometry: NiftiGeometry;
}

/**
 * Streams a file: parses the header, then hands the voxel bytes of [first frame, last frame) to
 * `makeSink(geometry)` in aligned chunks of whole elements. Checks the data size against the header.
 */
async function streamVoxels(src: Source, frameRange: (g: NiftiGeometry) => [number, number], makeSink: (g: NiftiGeometry, frames: number) => Sink): Promise<StreamResult> {
  const { path } = src;
  const { stream, gz, size } = await byteStream(src);
  let head: Uint8Array | null = new Uint8Array(0);
  let header: NiftiHeader | undefined;
  let geometry: NiftiGeometry | undefined;
  let sink: Sink | undefined;
  let start = 0;
  let end = 0;
  let elem = 1;
  let pos = 0; // bytes of the decompressed stream seen so far
  let k = 0; // elements delivered
  let carry = new Uint8Array(0);
  let scratch = new Uint8Array(0);
  let trailing = 0;
  let stopEarly = false;
  let countOnly = false;
  const feed = (chunk: Uint8Array, chunkStart: number): void => {
    const from = Math.max(start, chunkStart);
    const to = Math.min(end, chunkStart + chunk.length);
    if (to > from) {
      const part = chunk.subarray(from - chunkStart, to - chunkStart);
      const total = carry.length + part.length;
      const whole = total - (total % elem);
      if (whole > 0) {
        if (scratch.length < whole) scratch = new Uint8Array(Math.max(whole, 1 << 20));
        const buf = scratch.subarray(0, whole);
        buf.set(carry, 0);
        buf.set(part.subarray(0, whole - carry.length), carry.length);
        sink!(buf, k);
        k += whole / elem;
        carry = Uint8Array.from(part.subarray(whole - carry.length));
      } else {
        const c = new Uint8Array(total);
        c.set(carry);
        c.set(part, carry.length);
        carry = c;
      }
    }
    if (chunkStart + chunk.length > end) trailing += chunkStart + chunk.length - Math.max(end, chunkStart);
  };
  const begin = (bytes: Uint8Array): void => {
    header = parseNiftiHeader(path, bytes);
    geometry = geometryFromHeader(path, header);
    const [f0, f1] = frameRange(geometry);
    const [nz, ny, nx] = geometry.shape;
    elem = DATATYPES[geometry.datatype].bytes;
    const frameBytes = nx * ny * nz * elem;
    const minOffset = header.version === 1 ? 348 : 540;
    const offset = Math.max(Math.round(header.voxOffset), minOffset);
    start = offset + f0 * frameBytes;
    end = offset + f1 * frameBytes;
    stopEarly = f1 < geometry.frames;
    // A header can claim more voxels than the file can hold (a damaged or forged dims field): say so
    // with both numbers rather than failing to allocate. An uncompressed file's size is known; a
    // gzip stream can expand at most ~1032-fold (deflate's limit), so a claim beyond that cannot be
    // true, and the stream is drained only to count what it does hold.
    if (!gz && end > size) throw claimError(path, geometry, start, end, Math.max(0, size - start));
    if (gz && end - start > size * DEFLATE_MAX_RATIO + (1 << 20)) {
      sink = () => undefined;
      countOnly = true;
      return;
    }
    try {
      sink = makeSink(geometry, f1 - f0);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      sink = () => undefined; // cannot allocate that much: count the bytes, then report
      countOnly = true;
    }
  };
  try {
    for await (const raw of stream as AsyncIterable<Buffer>) {
      const chunk = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      if (head) {
        const joined: Uint8Array = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        if (joined.length < HEADER_PROBE_BYTES) {
          head = joined;
          pos += chunk.length;
          continue;
        }
        head = null;
        begin(joined);
        feed(joined, 0);
        pos = joined.length;
      } else {
        feed(chunk, pos);
        pos += chunk.length;
      }
      if (stopEarly && pos >= end) break;
    }
  } catch (e) {
    if (e instanceof MtDataError) throw e;
    if (gz && (e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw gzipError(path, e);
    if (gz && e instanceof Error && /unexpected end|incorrect header|invalid/i.test(e.message)) throw gzipError(path, e);
    throw fileError(path, e);
  } finally {
    stream.destroy();
  }
  if (head) {
    begin(head); // too short for a probe: parse what there is (throws when it is not a whole header)
    feed(head, 0);
    pos = head.length;
  }
  const g = geometry!;
  if (pos < end) throw claimError(path, g, start, end, Math.max(0, pos - start));
  if (countOnly) {
    throw MtDataError.about(path, `header says ${g.dims.join('x')} voxels of ${g.datatype} (${end - start} bytes), more than can be held in memory`, 'Crop or split the volume before using it');
  }
  if (!stopEarly && trailing >= g.shape[2] * elem) {
    throw MtDataError.about(
      path,
      `the file holds ${trailing} bytes after the ${g.dims.join('x')} voxels of ${g.datatype} its header declares; the header dims do not match the data`,
      'Fix the header dims (or re-export the file)',
    );
  }
  return { header: header!, geometry: g };
}

function frameRangeOf(path: string, frame: ReadOptions['frame']): (g: NiftiGeometry) => [number, number] {
  return (g) => {
    if (frame === 'all') return [0, g.frames];
    if (frame === undefined) {
      if (g.frames > 1) {
        throw MtDataError.about(
          path,
          `image is ${g.dims.length}-D (dims ${g.dims.join('x')}) with ${g.frames} volumes; only 3-D volumes are used here`,
          'Store each channel or time point as its own file (nnU-Net: CASE_0000.nii.gz, CASE_0001.nii.gz, ...)',
        );
      }
      return [0, 1];
    }
    if (!(Number.isInteger(frame) && frame >= 0 && frame < g.frames)) {
      throw MtDataError.about(path, `has ${g.frames} volume(s); volume ${frame} does not exist`, `Pick a volume 0..${g.frames - 1}`);
    }
    return [frame, frame + 1];
  };
}

function orient<T extends Float32Array | Uint8Array>(data: T, g: NiftiGeometry, frames: number, options: ReadOptions): { volume: Volume<T>; affine: Affine } {
  if (options.orientation !== 'ras') return { volume: { data, shape: g.shape, spacing: g.spacing }, affine: g.affine };
  const shape = reorientedShape(g.shape, g.orientation);
  const per = g.shape[0] * g.shape[1] * g.shape[2];
  let out = data;
  if (frames === 1) out = reorientArray(data, g.shape, g.orientation);
  else {
    out = new (data.constructor as new (n: number) => T)(data.length);
    for (let f = 0; f < frames; f++) out.set(reorientArray(data.subarray(f * per, (f + 1) * per) as T, g.shape, g.orientation), f * per);
  }
  return { volume: { data: out, shape, spacing: reorientedSpacing(g.spacing, g.orientation) }, affine: reorientedAffine(g.affine, g.shape, g.orientation) };
}

/** Reads an image as float32 intensities (scaling applied). See the module doc for voxel order. */
export async function readNifti(path: string, options: ReadOptions = {}): Promise<NiftiImage> {
  return readImage({ path }, options);
}

async function readImage(src: Source, options: ReadOptions): Promise<NiftiImage> {
  const { path } = src;
  let out = new Float32Array(0);
  let firstBad = -1;
  let bad = 0;
  const check = options.rejectNonFinite ?? true;
  const { geometry } = await streamVoxels(src, frameRangeOf(path, options.frame), (g, frames) => {
    const [nz, ny, nx] = g.shape;
    out = new Float32Array(nx * ny * nz * frames);
    const read = elementReader(g.datatype, g.header.littleEndian);
    const s = g.sclSlope;
    const b = g.sclInter;
    const scaled = s !== 1 || b !== 0;
    const isFloat = g.datatype === 'float32' || g.datatype === 'float64';
    return (bytes, k) => {
      const src = read(bytes);
      const n = src.length;
      if (g.datatype === 'int64') {
        for (let i = 0; i < n; i++) out[k + i] = Number(src[i]) * s + b;
      } else if (!scaled) {
        out.set(src as ArrayLike<number>, k);
      } else {
        const v = src as ArrayLike<number>;
        for (let i = 0; i < n; i++) out[k + i] = v[i] * s + b;
      }
      if (check && isFloat) {
        for (let i = 0; i < n; i++) {
          const v = out[k + i];
          if (v - v !== 0) {
            if (firstBad < 0) firstBad = k + i;
            bad++;
          }
        }
      }
    };
  });
  if (bad > 0) {
    throw MtDataError.about(
      path,
      `${bad} voxel(s) are NaN or infinite (first at voxel [z,y,x] ${JSON.stringify(unravel(firstBad, geometry.shape))})`,
      'Replace them before use (for CT, e.g. with -1024 HU: np.nan_to_num(data, nan=-1024)) and save the file again',
    );
  }
  const frames = out.length / (geometry.shape[0] * geometry.shape[1] * geometry.shape[2]);
  return { ...orient(out, geometry, frames, options), geometry };
}

/** Parses an in-memory NIfTI file (gzipped or not). `path` is only used in error messages. */
export async function parseNifti(path: string, raw: Uint8Array, options: ReadOptions = {}): Promise<NiftiImage> {
  return readImage({ path, bytes: raw }, options);
}

/**
 * Reads a label map: every voxel must be an integer in 0..255 (any stored datatype is accepted as long
 * as the values are). Returns uint8 voxels.
 */
export async function readNiftiLabel(path: string, options: Pick<ReadOptions, 'orientation'> = {}): Promise<NiftiLabel> {
  let out = new Uint8Array(0);
  const { geometry } = await streamVoxels({ path }, frameRangeOf(path, undefined), (g) => {
    const [nz, ny, nx] = g.shape;
    out = new Uint8Array(nx * ny * nz);
    const read = elementReader(g.datatype, g.header.littleEndian);
    const s = g.sclSlope;
    const b = g.sclInter;
    const direct = g.datatype === 'uint8' && s === 1 && b === 0;
    return (bytes, k) => {
      const src = read(bytes);
      if (direct) {
        out.set(src as Uint8Array, k);
        return;
      }
      for (let i = 0; i < src.length; i++) {
        const v = Number(src[i]) * s + b;
        if (!(v >= 0 && v <= 255 && Math.round(v) === v)) {
          throw MtDataError.about(
            path,
            `label map holds the value ${v} at voxel [z,y,x] ${JSON.stringify(unravel(k + i, g.shape))}; labels must be integers 0..255`,
            'Check that this is a segmentation (not an image) and that it was saved without interpolation or scaling',
          );
        }
        out[k + i] = v;
      }
    };
  });
  return { ...orient(out, geometry, 1, options), geometry };
}

/** Reads only the header (streaming and inflating just its first bytes), e.g. to check shapes cheaply. */
export async function readNiftiHeader(path: string): Promise<NiftiGeometry> {
  const { stream, gz } = await byteStream({ path });
  let head: Uint8Array = new Uint8Array(0);
  try {
    for await (const raw of stream as AsyncIterable<Buffer>) {
      const joined: Uint8Array = new Uint8Array(head.length + raw.byteLength);
      joined.set(head);
      joined.set(raw, head.length);
      head = joined;
      if (head.length >= HEADER_PROBE_BYTES) break;
    }
  } catch (e) {
    if (head.length < HEADER_PROBE_BYTES) throw gz ? gzipError(path, e) : fileError(path, e);
  } finally {
    stream.destroy();
  }
  return geometryFromHeader(path, parseNiftiHeader(path, head));
}
