/** Hand-made pickles, PyTorch zip archives and legacy files for the reader's tests (no Python needed). */

/** A pickle written opcode by opcode (protocol 2 unless `proto` says otherwise). */
export class Pickle {
  private readonly parts: number[] = [];

  constructor(proto = 2) {
    this.parts.push(0x80, proto);
  }

  private bytes(b: Uint8Array | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }

  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }

  global(module: string, name: string): this {
    return this.bytes([0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')]);
  }

  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).bytes([0x93]);
  }

  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.bytes([0x58, ...this.u32(b.length), ...b]);
  }

  int(n: number): this {
    return this.bytes([0x4a, ...this.u32(n >>> 0)]);
  }

  long1(v: bigint): this {
    const out: number[] = [];
    let x = v;
    while (x > 0n) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (out.length === 0 || out[out.length - 1] & 0x80) out.push(0);
    return this.bytes([0x8a, out.length, ...out]);
  }

  none(): this {
    return this.bytes([0x4e]);
  }

  bool(b: boolean): this {
    return this.bytes([b ? 0x88 : 0x89]);
  }

  mark(): this {
    return this.bytes([0x28]);
  }

  tuple(): this {
    return this.bytes([0x74]);
  }

  emptyTuple(): this {
    return this.bytes([0x29]);
  }

  emptyDict(): this {
    return this.bytes([0x7d]);
  }

  emptyList(): this {
    return this.bytes([0x5d]);
  }

  setitems(): this {
    return this.bytes([0x75]);
  }

  appends(): this {
    return this.bytes([0x65]);
  }

  reduce(): this {
    return this.bytes([0x52]);
  }

  binpersid(): this {
    return this.bytes([0x51]);
  }

  raw(b: number[]): this {
    return this.bytes(b);
  }

  stop(): Uint8Array {
    return Uint8Array.from([...this.parts, 0x2e]);
  }
}

/** `OrderedDict` of name -> float tensor [rows, cols] in storage `key` (persistent id with `numel`), as torch.save writes a state dict. */
export function stateDictPickle(tensors: { name: string; key: string; shape: [number, number]; numel?: number; offset?: number }[], wrap?: (p: Pickle) => void): Uint8Array {
  const p = new Pickle();
  p.global('collections', 'OrderedDict').emptyTuple().reduce();
  p.mark();
  for (const t of tensors) {
    p.str(t.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.mark();
    p.mark().str('storage').global('torch', 'FloatStorage').str(t.key).str('cpu').int(t.numel ?? t.shape[0] * t.shape[1]).tuple().binpersid();
    p.int(t.offset ?? 0);
    p.mark().int(t.shape[0]).int(t.shape[1]).tuple();
    p.mark().int(t.shape[1]).int(1).tuple();
    p.bool(false);
    p.global('collections', 'OrderedDict').emptyTuple().reduce();
    p.tuple().reduce();
  }
  p.setitems();
  wrap?.(p);
  return p.stop();
}

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A zip archive of stored (uncompressed) entries, as PyTorch writes its checkpoints. */
export function zipArchive(entries: { name: string; data: Uint8Array; declaredSize?: number }[]): Uint8Array {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const size = e.declaredSize ?? e.data.length;
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    chunks.push(local, name, Buffer.from(e.data));
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x800, 8);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(size, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += 30 + name.length + e.data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Uint8Array.from(Buffer.concat([...chunks, cdBytes, end]));
}

export function floats(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** A PyTorch zip checkpoint: archive/data.pkl plus one record per storage. */
export function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array>, prefix = 'archive'): Uint8Array {
  return zipArchive([
    { name: `${prefix}/data.pkl`, data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${prefix}/data/${k}`, data })),
    { name: `${prefix}/version`, data: Buffer.from('3\n') },
  ]);
}

/** A legacy torch.save file: magic, protocol, system info, the object, the storage keys, then per key its element count and bytes. */
export function torchLegacy(obj: Uint8Array, storages: { key: string; data: Uint8Array; count?: bigint }[]): Uint8Array {
  const magic = new Pickle().long1(0x1950a86a20f9469cfc6cn).stop();
  const protocol = new Pickle().int(1001).stop();
  const sys = new Pickle().emptyDict().mark().str('protocol_version').int(1001).str('little_endian').bool(true).setitems().stop();
  const keys = new Pickle().emptyList().mark();
  for (const s of storages) keys.str(s.key);
  const keyBytes = keys.appends().stop();
  const parts: Uint8Array[] = [magic, protocol, sys, obj, keyBytes];
  for (const s of storages) {
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(s.count ?? BigInt(s.data.length / 4));
    parts.push(n, s.data);
  }
  return Uint8Array.from(Buffer.concat(parts));
}
