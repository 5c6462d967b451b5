import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MtDataError } from '../../../src/runtime/data/errors.js';
import { PickleError, TensorRef, unpickle, UnsafePickleError } from '../../../src/runtime/import/pickle.js';
import { entryNameIsSafe, readPickleFile, readTorchFile } from '../../../src/runtime/import/torch-file.js';
import { floats, Pickle, stateDictPickle, torchLegacy, torchZip, zipArchive } from './craft.js';

const dir = mkdtempSync(join(tmpdir(), 'mtc-pickle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(bytes: Uint8Array, name = `f${n++}.pth`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function refusal(path: string): Promise<string> {
  try {
    await readTorchFile(path);
  } catch (e) {
    expect(e).toBeInstanceOf(MtDataError);
    expect((e as Error).message.startsWith(path)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`${path} was read, but should have been refused`);
}

const W = [0.5, -1, 2, 3.25];
const goodPickle = () => stateDictPickle([{ name: 'conv.weight', key: '0', shape: [2, 2] }]);

describe('well-formed files (the positive control for the crafted ones)', () => {
  it('reads a zip checkpoint and a legacy one to the same tensor', async () => {
    for (const bytes of [torchZip(goodPickle(), { '0': floats(W) }), torchLegacy(goodPickle(), [{ key: '0', data: floats(W) }])]) {
      const f = await readTorchFile(file(bytes));
      const t = (f.value as Map<string, unknown>).get('conv.weight') as TensorRef;
      expect(t).toBeInstanceOf(TensorRef);
      expect(t.shape).toEqual([2, 2]);
      expect([...f.tensor(t)]).toEqual(W);
    }
  });

  it('reads strided views (a transposed tensor) in C order', async () => {
    const p = new Pickle();
    p.global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple().binpersid();
    p.int(0).mark().int(2).int(2).tuple().mark().int(1).int(2).tuple().bool(false).none().tuple().reduce();
    const f = await readTorchFile(file(torchZip(p.stop(), { '0': floats(W) })));
    expect([...f.tensor(f.value as TensorRef)]).toEqual([0.5, 2, -1, 3.25]);
  });
});

describe('crafted pickles are refused, and nothing runs', () => {
  const marker = join(dir, 'pwned');

  it('os.system (GLOBAL + REDUCE) is refused by name; the command never runs', async () => {
    const evil = new Pickle().global('os', 'system').mark().str(`touch ${marker}`).tuple().reduce().stop();
    expect(() => unpickle(evil)).toThrow(UnsafePickleError);
    expect(() => unpickle(evil)).toThrow(/'os\.system'/);
    const msg = await refusal(file(torchZip(evil, {})));
    expect(msg).toMatch(/is refused: its data\.pkl refers to the Python global 'os\.system'/);
    expect(existsSync(marker)).toBe(false);
  });

  it('builtins.eval (protocol 4 STACK_GLOBAL), hidden inside a state dict, is refused by name', async () => {
    const evil = stateDictPickle([{ name: 'w', key: '0', shape: [2, 2] }], (p) => {
      p.str('extra').stackGlobal('builtins', 'eval').mark().str('__import__("os").system("true")').tuple().reduce();
    });
    expect(() => unpickle(evil, { persistentLoad: () => ({ kind: 'storage', key: '0', dtype: 'float32', numel: 4, location: 'cpu' }) })).toThrow(/'builtins\.eval'/);
    expect(await refusal(file(torchLegacy(evil, [{ key: '0', data: floats(W) }])))).toMatch(/'builtins\.eval'/);
  });

  it('other ways to build objects are refused: INST, OBJ, extension codes, a storage class used as a callable', () => {
    expect(() => unpickle(new Pickle().mark().raw([0x69, ...Buffer.from('subprocess\nPopen\n')]).stop())).toThrow(/'subprocess\.Popen' \(INST\)/);
    expect(() => unpickle(new Pickle().mark().global('collections', 'OrderedDict').raw([0x6f]).stop())).toThrow(/OBJ/);
    expect(() => unpickle(new Pickle().raw([0x82, 1]).stop())).toThrow(/extension registry/);
    expect(() => unpickle(new Pickle().global('torch', 'FloatStorage').emptyTuple().reduce().stop())).toThrow(/only as a type marker/);
    expect(() => unpickle(new Pickle().global('_codecs', 'encode').mark().str('x').str('rot13').tuple().reduce().stop())).toThrow(/latin1/);
  });

  it('plain pickles (.model.pkl) go through the same reader', async () => {
    const evil = new Pickle(4).emptyDict().mark().str('plans').global('posix', 'system').mark().str('true').tuple().reduce().setitems().stop();
    await expect(readPickleFile(file(evil, 'x.model.pkl'))).rejects.toThrow(/refers to the Python global 'posix\.system'/);
  });
});

describe('declared sizes are checked against the bytes that are there', () => {
  it('zip: a storage declaring far more elements than its record holds', async () => {
    const pkl = stateDictPickle([{ name: 'w', key: '0', shape: [2, 2], numel: 1_000_000_000 }]);
    expect(await refusal(file(torchZip(pkl, { '0': floats(W) })))).toMatch(/storage '0' declares 4000000000 bytes but the archive holds 16/);
  });

  it('zip: an entry declaring more bytes than the file', async () => {
    const bytes = zipArchive([
      { name: 'archive/data.pkl', data: goodPickle() },
      { name: 'archive/data/0', data: floats(W), declaredSize: 2_000_000_000 },
    ]);
    expect(await refusal(file(bytes))).toMatch(/zip entry 'archive\/data\/0' declares 2000000000 bytes, far more than the \d+-byte file can hold/);
  });

  it('legacy: a storage whose element count runs past the end of the file', async () => {
    const bytes = torchLegacy(goodPickle(), [{ key: '0', data: floats(W), count: 1n << 40n }]);
    expect(await refusal(file(bytes))).toMatch(/storage '0' declares 4398046511104 bytes, far more than the \d+-byte file holds/);
  });

  it('a tensor view reaching past its storage', async () => {
    const pkl = stateDictPickle([{ name: 'w', key: '0', shape: [2, 2], numel: 4, offset: 3 }]);
    expect(await refusal(file(torchZip(pkl, { '0': floats(W) })))).toMatch(/a tensor of shape \[2, 2\] reads 7 elements of storage '0', which holds 4/);
  });

  it('a string or bytes length beyond the data', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61]))).toThrow(/truncated: a string needs 2147483647 bytes/);
    expect(() => unpickle(Uint8Array.from([0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2e]))).toThrow(/beyond any file|truncated/);
  });
});

describe('zip entries must stay inside the archive', () => {
  it.each(['../evil', 'archive/../../etc/passwd', '/etc/passwd', 'C:\\Windows\\x', 'archive\\..\\..\\x'])('refuses %s', async (name) => {
    expect(entryNameIsSafe(name)).toBe(false);
    const bytes = zipArchive([
      { name: 'archive/data.pkl', data: goodPickle() },
      { name: 'archive/data/0', data: floats(W) },
      { name, data: Buffer.from('x') },
    ]);
    expect(await refusal(file(bytes))).toMatch(new RegExp(`zip entry '${name.replace(/[\\.]/g, (c) => `\\${c}`)}' has a path that leaves the archive`));
  });

  it('accepts the names PyTorch writes', () => {
    for (const name of ['archive/data.pkl', 'checkpoint_final/data/0', 'archive/.data/serialization_id']) expect(entryNameIsSafe(name)).toBe(true);
  });
});

describe('truncated files', () => {
  const zip = torchZip(goodPickle(), { '0': floats(W) });
  const legacy = torchLegacy(goodPickle(), [{ key: '0', data: floats(W) }]);

  it('a pickle cut anywhere is refused as truncated, never read past its end', () => {
    const p = goodPickle();
    for (let cut = 1; cut < p.length; cut++) {
      expect(() => unpickle(p.subarray(0, cut), { persistentLoad: () => ({ kind: 'storage', key: '0', dtype: 'float32', numel: 4, location: 'cpu' }) })).toThrow(PickleError);
    }
  });

  it('a zip checkpoint cut short', async () => {
    expect(await refusal(file(zip.subarray(0, Math.floor(zip.length / 2))))).toMatch(/is not a readable zip archive/);
  });

  it('a legacy checkpoint cut inside its storage data, inside its pickles, or empty', async () => {
    expect(await refusal(file(legacy.subarray(0, legacy.length - 3)))).toMatch(/is truncated: storage '0' declares 16 bytes but only 13 remain/);
    expect(await refusal(file(legacy.subarray(0, 40)))).toMatch(/is damaged \(the pickle is truncated/);
    expect(await refusal(file(new Uint8Array(0)))).toMatch(/is empty/);
  });
});
