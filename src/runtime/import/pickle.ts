/**
 * A restricted reader of Python pickles: it knows the constructs a PyTorch state dict and an
 * nnU-Net plans pickle are made of, and nothing else.
 *
 * Loading a pickle with Python's `pickle` runs whatever callables the file names (`os.system`,
 * `builtins.eval`, ...). This reader runs nothing: it interprets the pickle opcodes itself and
 * resolves every global against a fixed table of data constructors (`ALLOWED_GLOBALS`: tensors and
 * storages, `OrderedDict`, numpy arrays, dtypes and scalars, `torch.device`, sets, latin-1 bytes).
 * Any other global is refused by name, before it is used, as are the opcodes that build arbitrary
 * objects (INST, OBJ, NEWOBJ on a class outside the table, extension codes, out-of-band buffers).
 * Every length the file declares is checked against the bytes that are there, so a truncated or
 * crafted file is refused with a message rather than read past its end.
 *
 * Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
 * str -> string, bytes -> PyBytes, list and tuple -> arrays (tuples frozen), dict -> PyDict (a Map
 * with primitive keys), set -> PySet; the table's constructors give their own classes (see below).
 */

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** The file names a global (a callable or class) that a state dict never needs. */
export class UnsafePickleError extends PickleError {
  readonly global: string;
  constructor(global: string, message: string) {
    super(message);
    this.name = 'UnsafePickleError';
    this.global = global;
  }
}

export class PyBytes {
  constructor(readonly data: Uint8Array) {}
}

export type DictKey = string | number | bigint | boolean | null;
export type PyDict = Map<DictKey, PyValue>;
export class PySet {
  constructor(readonly items: PyValue[]) {}
}

/** A PyTorch storage named by a persistent id; its bytes live outside the pickle. */
export interface StorageRef {
  readonly kind: 'storage';
  /** The storage's key: the zip record name (`data/KEY`) or the legacy format's storage key. */
  readonly key: string;
  /** Element type from the storage class (`FloatStorage` -> float32). */
  readonly dtype: TorchDType;
  /** Elements, as declared (legacy format; the zip format's record length says it). */
  readonly numel: number | null;
  readonly location: string;
}

/** A tensor: a strided view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A numpy array (from `numpy.core.multiarray._reconstruct` + its state). */
export class NdArray {
  shape: number[] = [];
  dtype: NumpyDType | null = null;
  fortran = false;
  /** Raw little-endian (or `dtype.byteOrder`) bytes, or the items of an object array. */
  raw: Uint8Array | PyValue[] | null = null;
}

export class NumpyDType {
  /** numpy's type string, e.g. `f8`, `i8`, `O`. */
  constructor(readonly code: string) {}
  byteOrder = '|';
}

export class NumpyScalar {
  constructor(
    readonly dtype: NumpyDType,
    readonly raw: Uint8Array,
  ) {}
}

export class TorchDevice {
  constructor(readonly name: string) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PyValue[]
  | PyDict
  | PySet
  | TensorRef
  | StorageRef
  | NdArray
  | NumpyDType
  | NumpyScalar
  | TorchDevice
  | GlobalRef;

export type TorchDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Storage classes a persistent id may name, by their element type. */
export const STORAGE_DTYPES: Record<string, TorchDType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** A resolved entry of the global table, pushed by GLOBAL / STACK_GLOBAL. */
export class GlobalRef {
  constructor(
    readonly name: string,
    readonly entry: GlobalEntry,
  ) {}
}

interface GlobalEntry {
  /** REDUCE / NEWOBJ with these arguments (absent: not callable, e.g. a storage class marker). */
  call?: (args: PyValue[], name: string) => PyValue;
}

function isInt(v: PyValue): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function intList(v: PyValue, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isInt)) throw new PickleError(`${what} must be a tuple of integers`);
  return v as number[];
}

function rebuildTensor(args: PyValue[], name: string): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage && typeof storage === 'object' && (storage as StorageRef).kind === 'storage')) {
    throw new PickleError(`${name}: the first argument is not a storage`);
  }
  if (!isInt(offset) || offset < 0) throw new PickleError(`${name}: storage offset must be a non-negative integer`);
  const shape = intList(size ?? null, `${name}: size`);
  const strides = intList(stride ?? null, `${name}: stride`);
  if (shape.length !== strides.length) throw new PickleError(`${name}: ${shape.length} sizes but ${strides.length} strides`);
  if (shape.some((s) => s < 0) || strides.some((s) => s < 0)) throw new PickleError(`${name}: negative size or stride`);
  return new TensorRef(storage as StorageRef, offset, [...shape], [...strides]);
}

function ndarrayState(target: NdArray, state: PyValue): void {
  // (version, shape, dtype, is_fortran, rawdata) or without the version.
  if (!Array.isArray(state)) throw new PickleError('numpy array state is not a tuple');
  const s = state.length === 5 ? state.slice(1) : state;
  if (s.length !== 4) throw new PickleError(`numpy array state has ${state.length} items`);
  const [shape, dtype, fortran, raw] = s;
  target.shape = intList(shape, 'numpy array shape');
  if (!(dtype instanceof NumpyDType)) throw new PickleError('numpy array dtype is not a dtype');
  target.dtype = dtype;
  target.fortran = fortran === true;
  if (raw instanceof PyBytes) target.raw = raw.data;
  else if (typeof raw === 'string') target.raw = latin1(raw);
  else if (Array.isArray(raw)) target.raw = raw;
  else throw new PickleError('numpy array data is neither bytes nor a list');
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new PickleError('latin-1 text holds a character above U+00FF');
    out[i] = c;
  }
  return out;
}

function toDictKey(k: PyValue): DictKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  if (Array.isArray(k) && k.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) return `(${k.map((x) => JSON.stringify(x)).join(', ')})`;
  if (k instanceof NumpyScalar) return `numpy-scalar:${k.dtype.code}`;
  throw new PickleError('a dict key is not a string, number or tuple of them');
}

function orderedDict(args: PyValue[]): PyDict {
  const d: PyDict = new Map();
  const items = args[0];
  if (items === undefined || items === null) return d;
  if (!Array.isArray(items)) throw new PickleError('OrderedDict takes a list of (key, value) pairs');
  for (const it of items) {
    if (!Array.isArray(it) || it.length !== 2) throw new PickleError('OrderedDict item is not a (key, value) pair');
    d.set(toDictKey(it[0]), it[1]);
  }
  return d;
}

const storageMarker: GlobalEntry = {};

/**
 * The only globals a file may name: module.name -> what it builds. Alternative module spellings
 * (numpy 2's `numpy._core`, Python 2's `__builtin__`) are listed with their canonical entry.
 */
export const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalEntry> = (() => {
  const m = new Map<string, GlobalEntry>();
  const tensor: GlobalEntry = { call: (args, name) => rebuildTensor(args, name) };
  m.set('torch._utils._rebuild_tensor_v2', tensor);
  m.set('torch._utils._rebuild_tensor', tensor);
  m.set('torch._utils._rebuild_parameter', {
    call: (args) => {
      if (!(args[0] instanceof TensorRef)) throw new PickleError('torch._utils._rebuild_parameter: the data is not a tensor');
      return args[0];
    },
  });
  m.set('torch._utils._rebuild_parameter_with_state', m.get('torch._utils._rebuild_parameter')!);
  for (const s of Object.keys(STORAGE_DTYPES)) m.set(`torch.${s}`, storageMarker);
  m.set('torch.device', {
    call: (args) => {
      const [type, index] = args;
      if (typeof type !== 'string') throw new PickleError('torch.device takes a device name');
      return new TorchDevice(isInt(index ?? null) ? `${type}:${index}` : type);
    },
  });
  m.set('collections.OrderedDict', { call: (args) => orderedDict(args) });
  const reconstruct: GlobalEntry = {
    call: (args) => {
      if (!(args[0] instanceof GlobalRef) || args[0].name !== 'numpy.ndarray') throw new PickleError('numpy _reconstruct builds only numpy.ndarray');
      return new NdArray();
    },
  };
  const dtype: GlobalEntry = {
    call: (args) => {
      if (typeof args[0] !== 'string') throw new PickleError('numpy.dtype takes a type string');
      return new NumpyDType(args[0]);
    },
  };
  const scalar: GlobalEntry = {
    call: (args) => {
      const [dt, raw] = args;
      if (!(dt instanceof NumpyDType)) throw new PickleError('numpy scalar without a dtype');
      if (raw instanceof PyBytes) return new NumpyScalar(dt, raw.data);
      if (typeof raw === 'string') return new NumpyScalar(dt, latin1(raw));
      throw new PickleError('numpy scalar data is not bytes');
    },
  };
  for (const core of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
    m.set(`${core}._reconstruct`, reconstruct);
    m.set(`${core}.scalar`, scalar);
  }
  m.set('numpy.ndarray', {});
  m.set('numpy.dtype', dtype);
  const set: GlobalEntry = { call: (args) => new PySet(Array.isArray(args[0]) ? [...args[0]] : []) };
  for (const b of ['builtins', '__builtin__']) {
    m.set(`${b}.set`, set);
    m.set(`${b}.frozenset`, set);
  }
  // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
  m.set('_codecs.encode', {
    call: (args) => {
      const [text, enc] = args;
      if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new PickleError("_codecs.encode is allowed only as encode(text, 'latin1') (bytes)");
      return new PyBytes(latin1(text));
    },
  });
  return m;
})();

function globalName(module: string, name: string): string {
  return `${module}.${name}`;
}

function resolveGlobal(module: string, name: string): GlobalRef {
  const full = globalName(module, name);
  const entry = ALLOWED_GLOBALS.get(full);
  if (!entry) {
    throw new UnsafePickleError(
      full,
      `refers to the Python global '${full}', which a checkpoint of weights never needs; ` +
        'loading it with Python could run code, so it is refused (only tensors, storages, OrderedDict, numpy arrays and plain containers are read)',
    );
  }
  return new GlobalRef(full, entry);
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

export interface UnpickleOptions {
  /** Resolves a persistent id (PyTorch's storages). Without it, a persistent id is an error. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

/** Where the pickle ended: the position after its STOP opcode (legacy PyTorch files hold several). */
export interface UnpickleResult {
  value: PyValue;
  end: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads one pickle from `bytes` starting at `start`. Throws PickleError (truncated or malformed
 * input) or UnsafePickleError (a global outside the table); never evaluates anything.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}, start = 0): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const frozen = new WeakSet<object>();

  const need = (n: number, what: string): void => {
    if (n < 0 || pos + n > bytes.length) {
      throw new PickleError(`the pickle is truncated: ${what} needs ${n} bytes at offset ${pos}, but the data ends at ${bytes.length}`);
    }
  };
  const u8 = (): number => {
    need(1, 'an opcode argument');
    return bytes[pos++];
  };
  const u16 = (): number => {
    need(2, 'an opcode argument');
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4, 'an opcode argument');
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4, 'an opcode argument');
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8, 'an opcode argument');
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`a declared length of ${v} bytes is beyond any file`);
    return Number(v);
  };
  const take = (n: number, what: string): Uint8Array => {
    need(n, what);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`the pickle is truncated: a text argument at offset ${pos} has no end of line`);
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return decoder.decode(b);
    } catch {
      throw new PickleError('a string is not valid UTF-8');
    }
  };
  const push = (v: PyValue): void => {
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) throw new PickleError('the pickle pops from an empty stack');
    const v = stack.pop()!;
    if (v === MARK) throw new PickleError('the pickle pops a mark');
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new PickleError('the pickle reads an empty stack');
    return v;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) throw new PickleError('the pickle closes a mark it never opened');
    const items = stack.splice(m + 1) as PyValue[];
    stack.pop(); // the MARK itself
    return items;
  };
  const tuple = (items: PyValue[]): PyValue[] => {
    Object.freeze(items);
    frozen.add(items);
    return items;
  };
  const intFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const asDict = (v: PyValue, op: string): PyDict => {
    if (!(v instanceof Map)) throw new PickleError(`${op} on something that is not a dict`);
    return v;
  };
  const asList = (v: PyValue, op: string): PyValue[] => {
    if (!Array.isArray(v) || frozen.has(v)) throw new PickleError(`${op} on something that is not a list`);
    return v;
  };
  const call = (fn: PyValue, args: PyValue, op: string): PyValue => {
    if (!(fn instanceof GlobalRef)) throw new PickleError(`${op} calls something that is not an allowed global`);
    if (!fn.entry.call) throw new UnsafePickleError(fn.name, `calls '${fn.name}', which is allowed only as a type marker, not as a callable`);
    if (!Array.isArray(args)) throw new PickleError(`${op} arguments are not a tuple`);
    return fn.entry.call(args, fn.name);
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) throw new PickleError(`the pickle refers to memo entry ${i}, which was never stored`);
    return memo.get(i)!;
  };

  for (;;) {
    if (pos >= bytes.length) throw new PickleError(`the pickle is truncated: it ends at offset ${pos} without a STOP opcode`);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError('unsupported pickle protocol (above 5)');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP '.'
        if (stack.length !== 1 || marks.length !== 0) throw new PickleError(`the pickle stops with ${stack.length} values on its stack`);
        return { value: stack[0] as PyValue, end: pos };
      case 0x28: // MARK '('
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x30: // POP '0'
        if (stack.length > 0 && stack[stack.length - 1] === MARK) {
          stack.pop();
          marks.pop();
        } else pop();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        push(top());
        break;
      case 0x4e: // NONE 'N'
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x49: {
        // INT 'I' (text; 00/01 are booleans)
        const s = line();
        if (s === '00') push(false);
        else if (s === '01') push(true);
        else {
          const n = Number(s);
          if (!Number.isInteger(n)) throw new PickleError(`INT argument '${s.slice(0, 40)}' is not an integer`);
          push(n);
        }
        break;
      }
      case 0x4a: // BININT 'J'
        push(i32());
        break;
      case 0x4b: // BININT1 'K'
        push(u8());
        break;
      case 0x4d: // BININT2 'M'
        push(u16());
        break;
      case 0x4c: {
        // LONG 'L' (text)
        const s = line().replace(/L$/, '');
        if (!/^-?\d+$/.test(s)) throw new PickleError(`LONG argument '${s.slice(0, 40)}' is not an integer`);
        const b = BigInt(s);
        push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
        break;
      }
      case 0x8a: // LONG1
        push(intFromBytes(take(u8(), 'a LONG1 integer')));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) throw new PickleError('LONG4 with a negative length');
        push(intFromBytes(take(n, 'a LONG4 integer')));
        break;
      }
      case 0x46: {
        // FLOAT 'F' (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) throw new PickleError(`FLOAT argument '${s.slice(0, 40)}' is not a number`);
        push(v);
        break;
      }
      case 0x47: // BINFLOAT 'G' (big-endian)
        need(8, 'a float');
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x53: {
        // STRING 'S' (Python 2 str, quoted text)
        const s = line();
        const m = /^(['"])(.*)\1$/s.exec(s);
        if (!m) throw new PickleError('STRING argument is not quoted');
        push(m[2]);
        break;
      }
      case 0x54: {
        // BINSTRING 'T' (Python 2 str)
        const n = i32();
        push(Buffer.from(take(n, 'a string')).toString('latin1'));
        break;
      }
      case 0x55: // SHORT_BINSTRING 'U'
        push(Buffer.from(take(u8(), 'a string')).toString('latin1'));
        break;
      case 0x56: // UNICODE 'V' (raw-unicode-escape text)
        push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x58: // BINUNICODE 'X'
        push(utf8(take(u32(), 'a string')));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(utf8(take(u8(), 'a string')));
        break;
      case 0x8d: // BINUNICODE8
        push(utf8(take(u64(), 'a string')));
        break;
      case 0x42: // BINBYTES 'B'
        push(new PyBytes(take(u32(), 'a bytes object')));
        break;
      case 0x43: // SHORT_BINBYTES 'C'
        push(new PyBytes(take(u8(), 'a bytes object')));
        break;
      case 0x8e: // BINBYTES8
        push(new PyBytes(take(u64(), 'a bytes object')));
        break;
      case 0x96: // BYTEARRAY8
        push(new PyBytes(take(u64(), 'a bytearray')));
        break;
      case 0x29: // EMPTY_TUPLE ')'
        push(tuple([]));
        break;
      case 0x74: // TUPLE 't'
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST ']'
        push([]);
        break;
      case 0x6c: // LIST 'l'
        push(popMark());
        break;
      case 0x61: {
        // APPEND 'a'
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const items = popMark();
        const list = asList(top(), 'APPENDS');
        for (const it of items) list.push(it);
        break;
      }
      case 0x7d: // EMPTY_DICT '}'
        push(new Map());
        break;
      case 0x64: {
        // DICT 'd'
        const items = popMark();
        if (items.length % 2 !== 0) throw new PickleError('DICT with an odd number of items');
        const d: PyDict = new Map();
        for (let i = 0; i < items.length; i += 2) d.set(toDictKey(items[i]), items[i + 1]);
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        asDict(top(), 'SETITEM').set(toDictKey(k), v);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const items = popMark();
        if (items.length % 2 !== 0) throw new PickleError('SETITEMS with an odd number of items');
        const d = asDict(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) d.set(toDictKey(items[i]), items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new PySet([]));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet)) throw new PickleError('ADDITEMS on something that is not a set');
        s.items.push(...items);
        break;
      }
      case 0x91: // FROZENSET
        push(new PySet(popMark()));
        break;
      case 0x63: {
        // GLOBAL 'c' (module\nname\n)
        const module = line();
        const name = line();
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL names are not strings');
        push(resolveGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const fn = pop();
        push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), allowed for the table's constructors only
        const args = pop();
        const cls = pop();
        push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size > 0) throw new PickleError('NEWOBJ_EX with keyword arguments');
        push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: {
        // BUILD 'b': setstate, for numpy arrays and dtypes only
        const state = pop();
        const target = top();
        if (target instanceof NdArray) ndarrayState(target, state);
        else if (target instanceof NumpyDType) {
          if (Array.isArray(state) && typeof state[1] === 'string') target.byteOrder = state[1];
        } else if (target instanceof Map && state instanceof Map) {
          for (const [k, v] of state) target.set(k, v);
        } else if (target instanceof Map && state === null) {
          // OrderedDict's empty state
        } else throw new PickleError('BUILD (setstate) on an object that takes no state');
        break;
      }
      case 0x51: {
        // BINPERSID 'Q'
        const pid = pop();
        if (!options.persistentLoad) throw new PickleError('the pickle refers to external data (a persistent id) where none is expected');
        push(options.persistentLoad(pid));
        break;
      }
      case 0x50: {
        // PERSID 'P' (text id)
        const pid = line();
        if (!options.persistentLoad) throw new PickleError('the pickle refers to external data (a persistent id) where none is expected');
        push(options.persistentLoad(pid));
        break;
      }
      case 0x70: // PUT 'p'
        memo.set(Number(line()), top());
        break;
      case 0x71: // BINPUT 'q'
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET 'g'
        push(memoGet(Number(line())));
        break;
      case 0x68: // BINGET 'h'
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET 'j'
        push(memoGet(u32()));
        break;
      case 0x69: {
        // INST 'i' (module\nname\n): instantiates a class
        const module = line();
        const name = line();
        throw new UnsafePickleError(globalName(module, name), `instantiates the Python class '${globalName(module, name)}' (INST), which a checkpoint of weights never needs; it is refused`);
      }
      case 0x6f: // OBJ 'o'
        throw new PickleError('the pickle instantiates an object from a class on its stack (OBJ), which a checkpoint of weights never needs; it is refused');
      case 0x82:
      case 0x83:
      case 0x84: // EXT1/2/4
        throw new PickleError('the pickle refers to the copyreg extension registry (EXT opcodes), which a checkpoint of weights never needs; it is refused');
      case 0x97:
      case 0x98: // NEXT_BUFFER / READONLY_BUFFER
        throw new PickleError('the pickle needs out-of-band buffers (protocol 5), which PyTorch checkpoints do not use');
      default:
        throw new PickleError(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${at}: the file is damaged or not a pickle`);
    }
  }
}

/** numpy array values as float64 (numeric dtypes), for plans facts like spacings and patch sizes. */
export function ndarrayNumbers(a: NdArray): number[] {
  if (!a.dtype) throw new PickleError('numpy array without a dtype');
  if (Array.isArray(a.raw)) return a.raw.map((v) => (typeof v === 'number' ? v : Number.NaN));
  const raw = a.raw;
  if (!raw) return [];
  return decodeNumpy(a.dtype, raw, a.shape.reduce((p, s) => p * s, 1));
}

export function numpyScalarValue(s: NumpyScalar): number {
  const v = decodeNumpy(s.dtype, s.raw, 1);
  return v[0];
}

function decodeNumpy(dtype: NumpyDType, raw: Uint8Array, count: number): number[] {
  const code = dtype.code.replace(/^[<>=|]/, '');
  const big = dtype.byteOrder === '>' || dtype.code.startsWith('>');
  const kind = code[0];
  const size = Number(code.slice(1)) || (kind === '?' ? 1 : kind === 'b' ? 1 : 0);
  if (!['f', 'i', 'u', 'b', '?'].includes(kind) || size === 0) throw new PickleError(`numpy dtype '${dtype.code}' is not numeric`);
  if (raw.length < count * size) throw new PickleError(`numpy data holds ${raw.length} bytes, ${count * size} expected`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * size;
    let v: number;
    if (kind === 'f') v = size === 8 ? view.getFloat64(o, !big) : size === 4 ? view.getFloat32(o, !big) : halfToFloat(view.getUint16(o, !big));
    else if (kind === 'b' || kind === '?') v = raw[o];
    else if (kind === 'i') v = size === 8 ? Number(view.getBigInt64(o, !big)) : size === 4 ? view.getInt32(o, !big) : size === 2 ? view.getInt16(o, !big) : view.getInt8(o);
    else v = size === 8 ? Number(view.getBigUint64(o, !big)) : size === 4 ? view.getUint32(o, !big) : size === 2 ? view.getUint16(o, !big) : view.getUint8(o);
    out.push(v);
  }
  return out;
}

/** IEEE 754 half precision to float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
