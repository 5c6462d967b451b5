/**
 * PyTorch checkpoint files (`torch.save`), read without Python and without running anything.
 *
 * Two serialisations exist:
 * - the zip format (PyTorch >= 1.6): `PREFIX/data.pkl` (the object, storages as persistent ids
 *   `('storage', StorageClass, key, location, numel)`), `PREFIX/data/KEY` (each storage's raw
 *   bytes), `PREFIX/version`, optionally `PREFIX/byteorder`. The container is read with yauzl;
 *   every entry name is checked (none may leave the archive: absolute, `..`, drive letters).
 * - the legacy format (before 1.6, and `_use_new_zipfile_serialization=False`): five pickles in a
 *   row (magic number, protocol 1001, system info, the object, the list of storage keys), then per
 *   storage key its element count (int64 LE) and raw bytes.
 * The pickles go through the restricted reader (./pickle.ts). Every storage a tensor uses must be
 * there with at least the bytes its view needs, checked before anything is allocated for it.
 */
import { open as openFile, readFile } from 'node:fs/promises';
import yauzl from 'yauzl';
import { MtDataError } from '../data/errors.js';
import {
  GlobalRef,
  PickleError,
  type PyValue,
  STORAGE_DTYPES,
  type StorageRef,
  TensorRef,
  type TorchDType,
  UnsafePickleError,
  halfToFloat,
  unpickle,
} from './pickle.js';

export const DTYPE_BYTES: Record<TorchDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Largest data.pkl read (the object graph, not the weights). */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

export interface TorchFile {
  path: string;
  format: 'zip' | 'legacy';
  /** The saved object (dicts are Maps; tensors TensorRef). */
  value: PyValue;
  /** A tensor's values as float32, in C order of its shape. */
  tensor(ref: TensorRef): Float32Array;
}

const REFUSED_TODO = 'Only open checkpoints from sources you trust; re-save the weights with torch.save(model.state_dict(), path) if this file should be a plain checkpoint';

/** MtDataError for a file that failed a check; `what` says what is wrong. */
function refused(path: string, what: string, todo = REFUSED_TODO): MtDataError {
  return MtDataError.about(path, what, todo);
}

function pickleProblem(path: string, where: string, e: unknown): MtDataError {
  if (e instanceof UnsafePickleError) return refused(path, `is refused: its ${where} ${e.message}`);
  if (e instanceof PickleError) return refused(path, `cannot be read: its ${where} is damaged (${e.message})`, 'The file is truncated or corrupt: download or copy it again');
  return e instanceof MtDataError ? e : refused(path, `cannot be read: ${(e as Error).message}`);
}

/** Whether a zip entry name stays inside the archive. */
export function entryNameIsSafe(name: string): boolean {
  if (name.length === 0 || name.includes('\0')) return false;
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) return false;
  return !name.split(/[\\/]/).some((part) => part === '..');
}

function storageFromPid(pid: PyValue, legacy: boolean): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new PickleError('a persistent id is not a storage reference');
  const [, cls, key, location, numel, view] = pid;
  if (!(cls instanceof GlobalRef)) throw new PickleError('a storage reference does not name a storage class');
  const dtype = STORAGE_DTYPES[cls.name.replace(/^torch\./, '')];
  if (!dtype) throw new UnsafePickleError(cls.name, `names '${cls.name}' as a storage type, which is not a tensor storage`);
  if (typeof key !== 'string' || key.length === 0) throw new PickleError('a storage reference has no key');
  if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) throw new PickleError(`storage '${key}' declares no valid element count`);
  if (legacy && view !== undefined && view !== null) throw new PickleError(`storage '${key}' is a storage view (PyTorch before 1.0), which is not supported`);
  return { kind: 'storage', key, dtype, numel, location: typeof location === 'string' ? location : String(location) };
}

/** Elements a strided view reaches (0 for an empty tensor). */
export function viewExtent(t: TensorRef): number {
  if (t.shape.some((s) => s === 0)) return 0;
  let last = t.offset;
  t.shape.forEach((s, i) => {
    last += (s - 1) * t.stride[i];
  });
  return last + 1;
}

/** Every tensor in a value (depth-first; each object visited once). */
export function collectTensors(value: PyValue): TensorRef[] {
  const out: TensorRef[] = [];
  const seen = new Set<object>();
  const walk = (v: PyValue): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof TensorRef) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v instanceof Map) for (const x of v.values()) walk(x);
  };
  walk(value);
  return out;
}

function toFloat32(dtype: TorchDType, bytes: Uint8Array, t: TensorRef): Float32Array {
  const size = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (size === 0) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eb = DTYPE_BYTES[dtype];
  const read = (i: number): number => {
    const o = i * eb;
    switch (dtype) {
      case 'float32':
        return view.getFloat32(o, true);
      case 'float64':
        return view.getFloat64(o, true);
      case 'float16':
        return halfToFloat(view.getUint16(o, true));
      case 'bfloat16':
        return new Float32Array(new Uint32Array([view.getUint16(o, true) << 16]).buffer)[0];
      case 'int64':
        return Number(view.getBigInt64(o, true));
      case 'int32':
        return view.getInt32(o, true);
      case 'int16':
        return view.getInt16(o, true);
      case 'int8':
        return view.getInt8(o);
      case 'uint8':
      case 'bool':
        return bytes[o];
    }
  };
  // C-order walk over the shape with the tensor's strides.
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let i = 0; i < size; i++) {
    out[i] = read(src);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Checks every tensor's view against its storage's element count (before reading any data). */
function checkViews(path: string, value: PyValue, available: (s: StorageRef) => number): void {
  for (const t of collectTensors(value)) {
    const have = available(t.storage);
    const need = viewExtent(t);
    if (need > have) {
      throw refused(
        path,
        `is refused: a tensor of shape [${t.shape.join(', ')}] reads ${need} elements of storage '${t.storage.key}', which holds ${have}`,
        'The file is damaged or crafted: download or copy it again',
      );
    }
  }
}

interface ZipEntryInfo {
  entry: yauzl.Entry;
  name: string;
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error('cannot open the archive'));
      else resolve(zip);
    });
  });
}

function listEntries(zip: yauzl.ZipFile): Promise<ZipEntryInfo[]> {
  return new Promise((resolve, reject) => {
    const out: ZipEntryInfo[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      const raw = entry.fileName as unknown;
      const name = Buffer.isBuffer(raw) ? raw.toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1') : String(raw);
      out.push({ entry, name });
      zip.readEntry();
    });
    zip.on('end', () => resolve(out));
    zip.on('error', reject);
    zip.readEntry();
  });
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) {
        reject(err ?? new Error('cannot read an entry'));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  });
}

export interface ReadTorchOptions {
  /**
   * The part of the saved object whose tensors are wanted (e.g. the state dict): only their storages
   * are read. Every storage's declared size and every view is still checked. Default: all.
   */
  select?: (value: PyValue) => PyValue | undefined;
}

async function readZip(path: string, fileSize: number, options: ReadTorchOptions): Promise<TorchFile> {
  let zip: yauzl.ZipFile;
  let entries: ZipEntryInfo[];
  try {
    zip = await openZip(path);
    entries = await listEntries(zip);
  } catch (e) {
    throw refused(path, `is not a readable zip archive (${(e as Error).message})`, 'The file is truncated or corrupt: download or copy it again');
  }
  try {
    for (const { name } of entries) {
      if (!entryNameIsSafe(name)) {
        throw refused(path, `is refused: its zip entry '${name}' has a path that leaves the archive`, 'The file is crafted or damaged; PyTorch never writes such entries');
      }
    }
    for (const { entry, name } of entries) {
      if (entry.uncompressedSize > fileSize * 1100 || (entry.compressionMethod === 0 && entry.uncompressedSize > fileSize)) {
        throw refused(path, `is refused: its zip entry '${name}' declares ${entry.uncompressedSize} bytes, far more than the ${fileSize}-byte file can hold`, 'The file is damaged or crafted: download or copy it again');
      }
    }
    const pkl = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name)) ?? entries.find((e) => e.name === 'data.pkl');
    if (!pkl) throw refused(path, 'is a zip archive but not a PyTorch checkpoint (it has no data.pkl)', 'Pass the checkpoint file nnU-Net wrote (checkpoint_final.pth, model_final_checkpoint.model)');
    const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
    const byName = new Map(entries.map((e) => [e.name, e.entry]));
    const order = byName.get(`${prefix}byteorder`);
    if (order && (await readEntry(zip, order)).toString('latin1').trim() !== 'little') {
      throw refused(path, 'stores big-endian tensors, which are not supported', 'Re-save the checkpoint on a little-endian machine (any x86 or ARM computer)');
    }
    if (pkl.entry.uncompressedSize > MAX_PICKLE_BYTES) throw refused(path, `has a ${pkl.entry.uncompressedSize}-byte data.pkl, more than a checkpoint's object graph needs`);
    let pklBytes: Buffer;
    try {
      pklBytes = await readEntry(zip, pkl.entry);
    } catch (e) {
      throw refused(path, `cannot be read: its data.pkl is damaged (${(e as Error).message})`, 'The file is truncated or corrupt: download or copy it again');
    }
    let value: PyValue;
    try {
      value = unpickle(pklBytes, { persistentLoad: (pid) => storageFromPid(pid, false) }).value;
    } catch (e) {
      throw pickleProblem(path, 'data.pkl', e);
    }
    const storageEntry = (s: StorageRef): yauzl.Entry => {
      const e = byName.get(`${prefix}data/${s.key}`);
      if (!e) throw refused(path, `is damaged: storage '${s.key}' has no record data/${s.key} in the archive`, 'The file is truncated or corrupt: download or copy it again');
      return e;
    };
    // Declared storage sizes against the records, before any storage is read.
    const storages = new Map<string, StorageRef>();
    for (const t of collectTensors(value)) storages.set(t.storage.key, t.storage);
    for (const s of storages.values()) {
      const e = storageEntry(s);
      const declared = (s.numel ?? 0) * DTYPE_BYTES[s.dtype];
      if (declared > e.uncompressedSize) {
        throw refused(path, `is refused: storage '${s.key}' declares ${declared} bytes but the archive holds ${e.uncompressedSize} for it`, 'The file is damaged or crafted: download or copy it again');
      }
    }
    checkViews(path, value, (s) => Math.floor(storageEntry(s).uncompressedSize / DTYPE_BYTES[s.dtype]));
    const data = new Map<string, Uint8Array>();
    const wanted = new Map<string, StorageRef>();
    for (const t of collectTensors(options.select ? (options.select(value) ?? null) : value)) wanted.set(t.storage.key, t.storage);
    for (const s of wanted.values()) {
      try {
        data.set(s.key, await readEntry(zip, storageEntry(s)));
      } catch (e) {
        throw refused(path, `cannot be read: storage '${s.key}' is damaged (${(e as Error).message})`, 'The file is truncated or corrupt: download or copy it again');
      }
    }
    return {
      path,
      format: 'zip',
      value,
      tensor: (t) => {
        const bytes = data.get(t.storage.key);
        if (!bytes) throw new Error(`internal: storage '${t.storage.key}' of ${path} was not selected for reading`);
        return toFloat32(t.storage.dtype, bytes, t);
      },
    };
  } finally {
    zip.close();
  }
}

function readLegacy(path: string, bytes: Uint8Array): TorchFile {
  let pos = 0;
  const next = (what: string, persistentLoad?: (pid: PyValue) => PyValue): PyValue => {
    try {
      const r = unpickle(bytes, persistentLoad ? { persistentLoad } : {}, pos);
      pos = r.end;
      return r.value;
    } catch (e) {
      throw pickleProblem(path, what, e);
    }
  };
  const magic = next('header');
  if (magic !== LEGACY_MAGIC && !(typeof magic === 'bigint' && magic === LEGACY_MAGIC)) {
    throw refused(path, 'is a pickle but not a PyTorch checkpoint (no torch.save magic number)', 'Pass the checkpoint file nnU-Net wrote (checkpoint_final.pth, model_final_checkpoint.model)');
  }
  const protocol = next('header');
  if (protocol !== LEGACY_PROTOCOL) throw refused(path, `uses PyTorch serialisation protocol ${String(protocol)}, expected ${LEGACY_PROTOCOL}`, 'Re-save it with a current PyTorch (torch.save)');
  const sysInfo = next('system information');
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw refused(path, 'stores big-endian tensors, which are not supported', 'Re-save the checkpoint on a little-endian machine (any x86 or ARM computer)');
  }
  const declared = new Map<string, StorageRef>();
  const value = next('object', (pid) => {
    const s = storageFromPid(pid, true);
    const prior = declared.get(s.key);
    if (prior) return prior;
    declared.set(s.key, s);
    return s;
  });
  const keys = next('storage list');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw refused(path, 'cannot be read: its storage list is damaged', 'The file is truncated or corrupt: download or copy it again');
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const s = declared.get(key);
    if (pos + 8 > bytes.length) throw refused(path, `is truncated: storage '${key}' is missing (the file ends at byte ${bytes.length})`, 'Download or copy the file again');
    const count = view.getBigInt64(pos, true);
    pos += 8;
    const eb = s ? DTYPE_BYTES[s.dtype] : 1;
    const need = count * BigInt(eb);
    if (count < 0n || need > BigInt(bytes.length - pos)) {
      const what = count < 0n ? `a negative size` : `${need} bytes`;
      throw refused(
        path,
        need > BigInt(bytes.length) ? `is refused: storage '${key}' declares ${what}, far more than the ${bytes.length}-byte file holds` : `is truncated: storage '${key}' declares ${what} but only ${bytes.length - pos} remain`,
        'The file is damaged or crafted: download or copy it again',
      );
    }
    if (s && s.numel !== null && Number(count) !== s.numel) throw refused(path, `is damaged: storage '${key}' holds ${count} elements, its reference says ${s.numel}`, 'Download or copy the file again');
    data.set(key, bytes.subarray(pos, pos + Number(need)));
    pos += Number(need);
  }
  for (const s of declared.values()) {
    if (!data.has(s.key)) throw refused(path, `is truncated: storage '${s.key}' is referenced but not stored`, 'Download or copy the file again');
  }
  checkViews(path, value, (s) => data.get(s.key)!.length / DTYPE_BYTES[s.dtype]);
  return {
    path,
    format: 'legacy',
    value,
    tensor: (t) => toFloat32(t.storage.dtype, data.get(t.storage.key)!, t),
  };
}

/** Reads a `torch.save` file (zip or legacy); refuses anything else with an MtDataError. */
export async function readTorchFile(path: string, options: ReadTorchOptions = {}): Promise<TorchFile> {
  let size: number;
  let head: Uint8Array;
  try {
    const fh = await openFile(path, 'r');
    try {
      size = (await fh.stat()).size;
      head = new Uint8Array(Math.min(size, 512));
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw MtDataError.about(path, `cannot be read (${(e as Error).message})`, 'Check the path and its permissions');
  }
  if (size === 0) throw refused(path, 'is empty', 'Download or copy the checkpoint again');
  if (head[0] === 0x50 && head[1] === 0x4b) return readZip(path, size, options);
  if (head.length > 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') {
    throw refused(path, "is a PyTorch checkpoint in the tar format of PyTorch 0.1, which is not supported", 'Load and re-save it with torch.save in a current PyTorch');
  }
  if (head[0] !== 0x80) throw refused(path, 'is neither a PyTorch zip checkpoint nor a pickle', 'Pass the checkpoint file nnU-Net wrote (checkpoint_final.pth, model_final_checkpoint.model)');
  return readLegacy(path, await readFile(path));
}

/** Reads a plain pickle file (e.g. nnU-Net v1's `.model.pkl`) with the restricted reader. */
export async function readPickleFile(path: string): Promise<PyValue> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw MtDataError.about(path, `cannot be read (${(e as Error).message})`, 'Check the path and its permissions');
  }
  try {
    return unpickle(bytes).value;
  } catch (e) {
    throw pickleProblem(path, 'pickle', e);
  }
}
