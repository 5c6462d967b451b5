/** The PyTorch reference builds of nnU-Net's networks (nnunet_reference.py), run in a temp folder. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON } from '../data/python.js';

export const REFERENCE_SCRIPT = fileURLToPath(new URL('./nnunet_reference.py', import.meta.url));

function hasTorch(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
}

export const HAS_TORCH = hasTorch();
export const TORCH_SKIP_REASON = 'PyTorch not available: /usr/bin/python3 -c "import torch" failed (apt-get install -y python3-torch to run the import checks)';

export interface Reference {
  out: string;
  modelDir: string;
  patch: [number, number, number];
  input: Float32Array;
  /** Every output, full resolution first, each [C, z, y, x]. */
  outputs: Float32Array[];
  outputShapes: number[][];
  parameters: number;
  numClasses: number;
}

/** Runs the reference script with `args` (e.g. ['v2', '--arch', 'plain']) into a new temp folder. */
export function buildReference(args: string[]): Reference {
  const out = mkdtempSync(join(tmpdir(), 'mtc-import-'));
  const r = spawnSync(PYTHON, [REFERENCE_SCRIPT, ...args, '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nnunet_reference.py ${args.join(' ')} failed: ${r.stderr}`);
  const meta = JSON.parse(readFileSync(join(out, 'reference', 'meta.json'), 'utf8')) as {
    modelDir: string;
    patch: [number, number, number];
    outputShapes: number[][];
    parameters: number;
    numClasses: number;
  };
  const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const all = f32(readFileSync(join(out, 'reference', 'outputs.bin')));
  const outputs: Float32Array[] = [];
  let at = 0;
  for (const s of meta.outputShapes) {
    const n = s.reduce((a, b) => a * b, 1);
    outputs.push(all.slice(at, at + n));
    at += n;
  }
  return { out, ...meta, input: f32(readFileSync(join(out, 'reference', 'input.bin'))), outputs };
}

/** [C, z, y, x] -> [z, y, x, C] (channels last, as mtc's outputs). */
export function channelsLast(a: Float32Array, shape: number[]): Float32Array {
  const [c, ...sp] = shape;
  const n = sp.reduce((x, y) => x * y, 1);
  const out = new Float32Array(a.length);
  for (let k = 0; k < c; k++) for (let i = 0; i < n; i++) out[i * c + k] = a[k * n + i];
  return out;
}
