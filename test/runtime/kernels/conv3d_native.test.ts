import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  fastCpuKernelsActive,
  nativeConv3dInfo,
  originalCpuConv3dKernels,
  registerFastCpuKernels,
  unregisterFastCpuKernels,
} from '../../../src/runtime/kernels/index.js';
import { loadNativeConv3d } from '../../../src/runtime/kernels/native_addon.js';
import { currentNativeIsa, nativeIsas, selectNativeIsa, setNativeThreads } from '../../../src/runtime/kernels/native_config.js';

type V3 = [number, number, number];
type Shape5 = [number, number, number, number, number];
type Pad = 'same' | 'valid';

interface Case {
  shape: Shape5;
  filters: number;
  kernel: V3;
  strides: V3;
  pad: Pad;
}

await tf.setBackend('cpu');
const load = loadNativeConv3d();
const skipReason = load.addon ? undefined : load.reason;
const native = skipReason === undefined;
const SKIP_NOTE = skipReason ? ` [SKIPPED: ${skipReason}]` : '';
if (skipReason) {
  console.warn(`conv3d native comparison tests skipped: ${skipReason}. Build with \`node scripts/build-native.mjs\`.`);
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** Runs fn with tfjs's own cpu kernels, then restores the native ones. */
function withReference<T>(fn: () => T): T {
  unregisterFastCpuKernels();
  try {
    return fn();
  } finally {
    registerFastCpuKernels();
  }
}

function expectClose(actual: tf.Tensor, expected: tf.Tensor, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < e.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(e[i]));
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - e[i]));
  }
  expect(maxDiff, `${what}: max |diff| ${maxDiff} (max |ref| ${maxRef})`).toBeLessThanOrEqual(2e-5 * Math.max(1, maxRef));
}

const engine = tf.engine();

function runAll(c: Case, seed: number): tf.Tensor[] {
  return tf.tidy(() => {
    const [kd, kh, kw] = c.kernel;
    const x = rand(c.shape, seed) as tf.Tensor5D;
    const w = rand([kd, kh, kw, c.shape[4], c.filters], seed + 1) as tf.Tensor5D;
    const y = tf.conv3d(x, w, c.strides, c.pad);
    const dy = rand(y.shape, seed + 2) as tf.Tensor5D;
    const dx = engine.runKernel('Conv3DBackpropInputV2', { dy, filter: w }, {
      strides: c.strides, pad: c.pad, inputShape: c.shape,
    }) as tf.Tensor;
    const dw = engine.runKernel('Conv3DBackpropFilterV2', { x, dy }, {
      strides: c.strides, pad: c.pad, filterShape: w.shape,
    }) as tf.Tensor;
    return [y, dx, dw];
  });
}

const k1: V3 = [1, 1, 1];
const k3: V3 = [3, 3, 3];
const s1: V3 = [1, 1, 1];
const s2: V3 = [2, 2, 2];
const cases: Case[] = [
  { shape: [1, 5, 6, 7, 3], filters: 5, kernel: k3, strides: s1, pad: 'same' },
  { shape: [2, 7, 5, 9, 4], filters: 11, kernel: k3, strides: s1, pad: 'valid' },
  { shape: [2, 7, 9, 11, 5], filters: 6, kernel: k3, strides: s2, pad: 'same' },
  { shape: [1, 8, 6, 10, 6], filters: 18, kernel: k3, strides: s2, pad: 'same' },
  { shape: [2, 9, 7, 8, 3], filters: 17, kernel: k3, strides: s2, pad: 'valid' },
  { shape: [1, 5, 7, 6, 9], filters: 19, kernel: k1, strides: s1, pad: 'valid' },
  { shape: [2, 5, 5, 7, 20], filters: 7, kernel: k1, strides: s1, pad: 'same' },
  { shape: [1, 7, 6, 9, 5], filters: 9, kernel: k1, strides: s2, pad: 'same' },
  { shape: [1, 4, 9, 7, 10], filters: 33, kernel: k3, strides: [1, 2, 2], pad: 'same' },
  { shape: [2, 3, 4, 5, 1], filters: 2, kernel: [3, 1, 2], strides: [2, 1, 3], pad: 'valid' },
  { shape: [1, 2, 2, 3, 7], filters: 3, kernel: k3, strides: s2, pad: 'same' }, // input smaller than kernel
  { shape: [1, 3, 3, 13, 24], filters: 24, kernel: [2, 2, 2], strides: s2, pad: 'same' },
];

function label(c: Case): string {
  return `[${c.shape}] -> ${c.filters} k[${c.kernel}] s[${c.strides}] ${c.pad}`;
}

describe('registerFastCpuKernels', () => {
  afterAll(() => unregisterFastCpuKernels());

  it('reports whether the native kernels are active, with a reason when not', () => {
    const before = tf.getKernel('Conv3D', 'cpu');
    const status = registerFastCpuKernels();
    expect(status.native).toBe(native);
    expect(fastCpuKernelsActive()).toBe(native);
    if (native) {
      expect(status.reason).toBeUndefined();
      expect(tf.getKernel('Conv3D', 'cpu')).not.toBe(before);
      expect(originalCpuConv3dKernels()?.Conv3D).toBe(before);
      expect(['avx512', 'avx2', 'generic']).toContain(nativeConv3dInfo()?.isa);
      expect(registerFastCpuKernels()).toEqual({ native: true }); // idempotent
    } else {
      expect(status.reason).toMatch(/\S/);
      expect(tf.getKernel('Conv3D', 'cpu')).toBe(before); // tfjs left alone
    }
  });

  it('unregisterFastCpuKernels restores the tfjs kernels', () => {
    registerFastCpuKernels();
    const originals = originalCpuConv3dKernels();
    unregisterFastCpuKernels();
    expect(fastCpuKernelsActive()).toBe(false);
    if (originals) expect(tf.getKernel('Conv3D', 'cpu')).toBe(originals.Conv3D);
    expect(tf.getKernel('Conv3DBackpropFilterV2', 'cpu')).toBeDefined();
  });
});

describe.skipIf(!native)(`native conv3d kernels match tfjs's cpu kernels${SKIP_NOTE}`, () => {
  beforeAll(() => {
    expect(registerFastCpuKernels().native).toBe(true);
  });
  afterAll(() => unregisterFastCpuKernels());

  cases.forEach((c, i) => {
    it(`Conv3D, Conv3DBackpropInputV2, Conv3DBackpropFilterV2 ${label(c)}`, () => {
      const ours = runAll(c, 100 + 10 * i);
      const ref = withReference(() => runAll(c, 100 + 10 * i));
      expectClose(ours[0], ref[0], `${label(c)} forward`);
      expectClose(ours[1], ref[1], `${label(c)} input grad`);
      expectClose(ours[2], ref[2], `${label(c)} filter grad`);
      tf.dispose([...ours, ...ref]);
    });
  });

  it('tf.grad through a small conv3d stack equals the reference', () => {
    const x = rand([2, 6, 7, 5, 3], 7) as tf.Tensor5D;
    const w1 = rand([3, 3, 3, 3, 6], 8) as tf.Tensor5D;
    const w2 = rand([3, 3, 3, 6, 5], 9) as tf.Tensor5D;
    const w3 = rand([1, 1, 1, 5, 4], 10) as tf.Tensor5D;
    const loss = (xi: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar => {
      const h1 = tf.relu(tf.conv3d(xi as tf.Tensor5D, a as tf.Tensor5D, 1, 'same'));
      const h2 = tf.conv3d(h1, b as tf.Tensor5D, [2, 2, 2], 'same');
      const h3 = tf.conv3d(tf.tanh(h2), c as tf.Tensor5D, 1, 'valid');
      return tf.sum(tf.square(h3));
    };
    const gradsOf = (): tf.Tensor[] => tf.grads(loss)([x, w1, w2, w3]);
    const ours = gradsOf();
    const ref = withReference(gradsOf);
    ['x', 'w1', 'w2', 'w3'].forEach((n, i) => expectClose(ours[i], ref[i], `d loss / d ${n}`));
    tf.dispose([...ours, ...ref, x, w1, w2, w3]);
  });

  it('falls back to tfjs for dilation != 1', () => {
    const x = rand([1, 7, 7, 7, 2], 11) as tf.Tensor5D;
    const w = rand([3, 3, 3, 2, 3], 12) as tf.Tensor5D;
    const ours = tf.conv3d(x, w, 1, 'valid', 'NDHWC', 2);
    const ref = withReference(() => tf.conv3d(x, w, 1, 'valid', 'NDHWC', 2));
    expectClose(ours, ref, 'dilated conv3d');
    tf.dispose([x, w, ours, ref]);
  });

  it('the addon rejects inconsistent buffers with a clear error', () => {
    const addon = load.addon!; // non-null: this block only runs when the addon loaded
    const params = new Int32Array([1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(() => addon.forward(new Float32Array(7), new Float32Array(1), params, new Float32Array(8))).toThrow(
      /x has 7 elements, expected 8/,
    );
    expect(() => addon.forward(new Float32Array(8), new Float32Array(1), new Int32Array(3), new Float32Array(8))).toThrow(
      /params must be an Int32Array\(18\)/,
    );
    const y = new Float32Array(8);
    addon.forward(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), Float32Array.from([2]), params, y);
    expect(Array.from(y)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
  });
});

/** True when every element of a and b has the same bits (NaN payloads and -0 included). */
function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function valuesOf(ts: tf.Tensor[]): Float32Array[] {
  const v = ts.map((t) => t.dataSync() as Float32Array).map((a) => Float32Array.from(a));
  tf.dispose(ts);
  return v;
}

describe.skipIf(!native)(`every instruction-set build of the native conv3d kernels${SKIP_NOTE}`, () => {
  const isas = native ? nativeIsas() : [];
  const initial = native ? currentNativeIsa() : undefined;
  beforeAll(() => {
    expect(registerFastCpuKernels().native).toBe(true);
    // The builds this CPU runs, best first; generic always among them.
    expect(isas.at(-1)).toBe('generic');
    expect(isas[0]).toBe(initial);
  });
  afterAll(() => {
    if (initial) selectNativeIsa(initial);
    setNativeThreads(0);
    unregisterFastCpuKernels();
  });

  for (const isa of ['avx512', 'avx2', 'generic'] as const) {
    it.skipIf(!isas.includes(isa))(`${isa}: Conv3D and both gradients match tfjs's kernels on every case${isas.includes(isa) ? '' : ` [SKIPPED: this CPU cannot run the ${isa} build]`}`, () => {
      selectNativeIsa(isa);
      expect(currentNativeIsa()).toBe(isa);
      cases.forEach((c, i) => {
        const ours = runAll(c, 100 + 10 * i);
        const ref = withReference(() => runAll(c, 100 + 10 * i));
        ['forward', 'input grad', 'filter grad'].forEach((what, j) => expectClose(ours[j], ref[j], `${isa} ${label(c)} ${what}`));
        tf.dispose([...ours, ...ref]);
      });
    });
  }

  // Network-sized cases that take the wide (32-column) blocks, both filter-gradient paths
  // (output-partitioned for small inputs, position-partitioned with partial sums for large ones)
  // and balanced row tiles.
  const wide: Case[] = [
    { shape: [2, 9, 10, 33, 16], filters: 16, kernel: k3, strides: s1, pad: 'same' },
    { shape: [1, 8, 6, 21, 24], filters: 40, kernel: k3, strides: s2, pad: 'same' },
    { shape: [1, 4, 4, 30, 64], filters: 72, kernel: k3, strides: s1, pad: 'same' },
    { shape: [2, 16, 16, 16, 16], filters: 32, kernel: k3, strides: s2, pad: 'same' },
    { shape: [2, 4, 4, 4, 40], filters: 48, kernel: k3, strides: s1, pad: 'same' },
    // Row strides the kernels compile as constants (kernels.cpp, TapGemmRowOf): forward xs = Ci at
    // stride 1 and 2 * Ci at stride 2, input gradient xs = Co. The cases above take 16, 32 and 64 and
    // the run-time stride (40, 48, 72, 80); these take 8, 128, 256 and 320.
    { shape: [1, 3, 4, 9, 8], filters: 8, kernel: k3, strides: s1, pad: 'same' },
    { shape: [1, 3, 3, 6, 128], filters: 128, kernel: k3, strides: s2, pad: 'same' },
    { shape: [1, 2, 3, 5, 320], filters: 320, kernel: k3, strides: s1, pad: 'same' },
    // The avx512 filter gradient's kw-shared tiles (kernels.cpp, FilterTileKw3: kw = 3, stride 1
    // along W, rows of 16 outputs or more, column blocks of 8 or 16), next to 32-wide blocks in one
    // call (72 = 32 + 32 + 8, 24 = 16 + 8), with channel tiles that do not divide (13 = 7 + 6), 'valid'
    // rows, a stride along D only, a [1, 3, 3] kernel, and the position-partitioned path (x and dy
    // above 1 MB).
    { shape: [2, 6, 5, 40, 13], filters: 24, kernel: k3, strides: s1, pad: 'valid' },
    { shape: [2, 16, 16, 24, 12], filters: 16, kernel: k3, strides: s1, pad: 'same' },
    { shape: [1, 8, 6, 17, 9], filters: 72, kernel: k3, strides: [2, 1, 1], pad: 'same' },
    { shape: [1, 3, 4, 17, 6], filters: 8, kernel: [1, 3, 3], strides: s1, pad: 'same' },
  ];

  it('the avx512 and avx2 builds give bit-identical results (both fuse multiply-adds, same summation order)', () => {
    if (!isas.includes('avx512') || !isas.includes('avx2')) {
      console.warn('avx512 vs avx2 bit-identity not checked: this CPU lacks one of the builds');
      return;
    }
    for (const [i, c] of [...cases, ...wide].entries()) {
      selectNativeIsa('avx512');
      const a = valuesOf(runAll(c, 300 + i));
      selectNativeIsa('avx2');
      const b = valuesOf(runAll(c, 300 + i));
      a.forEach((v, j) => expect(bitEqual(v, b[j]), `${label(c)} output ${j}`).toBe(true));
    }
  });

  it('wide-block cases match tfjs in every build', () => {
    wide.forEach((c, i) => {
      const ref = withReference(() => runAll(c, 400 + i));
      for (const isa of isas) {
        selectNativeIsa(isa);
        const ours = runAll(c, 400 + i);
        ['forward', 'input grad', 'filter grad'].forEach((what, j) => expectClose(ours[j], ref[j], `${isa} ${label(c)} ${what}`));
        tf.dispose(ours);
      }
      tf.dispose(ref);
    });
  });

  it('results are bit-identical whatever the thread count (1, 2, 3, 5 threads)', () => {
    for (const isa of isas) {
      selectNativeIsa(isa);
      for (const [i, c] of [...cases.slice(0, 4), ...wide].entries()) {
        setNativeThreads(1);
        const one = valuesOf(runAll(c, 500 + i));
        for (const n of [2, 3, 5]) {
          setNativeThreads(n);
          const many = valuesOf(runAll(c, 500 + i));
          one.forEach((v, j) => expect(bitEqual(v, many[j]), `${isa} ${label(c)} output ${j}, ${n} threads`).toBe(true));
        }
      }
    }
    setNativeThreads(0);
  });
});
