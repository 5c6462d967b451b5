/**
 * Seeded pseudo-random numbers for the data layer. Never Math.random: every draw must be
 * reproducible from the seed that the graph records.
 */

/** A uniform generator on [0, 1). */
export type Rng = () => number;

/** sfc32 (Small Fast Counter, Chris Doty-Humphrey): 128-bit state, passes PractRand at this size. */
export function sfc32(a: number, b: number, c: number, d: number): Rng {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let s3 = d >>> 0;
  const next: Rng = () => {
    const t = (((s0 + s1) | 0) + s3) | 0;
    s3 = (s3 + 1) | 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) | 0;
    s2 = (s2 << 21) | (s2 >>> 11);
    s2 = (s2 + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  return next;
}

/** 32-bit FNV-1a of a string, then avalanche-mixed; used to derive independent seeds from names. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** murmur3's 32-bit finaliser. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A generator for a seed and any number of name parts: `makeRng(seed, 'Dataset901', 3)` is independent
 * of `makeRng(seed, 'Dataset901', 4)` and of the order in which they are created.
 */
export function makeRng(seed: number, ...parts: (string | number)[]): Rng {
  const key = hashString([String(seed >>> 0), ...parts.map(String)].join('\u0000'));
  const rng = sfc32(0x9e3779b9, key, mix32(key ^ 0x243f6a88), (seed >>> 0) ^ 0xb7e15162);
  for (let i = 0; i < 12; i++) rng(); // warm up: sfc32 needs a few rounds to mix a weak seed
  return rng;
}

/** Uniform on [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Uniform integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Standard normal numbers by the Box–Muller transform, two per pair of uniforms. */
export function normalSource(rng: Rng): () => number {
  let spare = 0;
  let hasSpare = false;
  return () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    let u = rng();
    while (u <= 1e-300) u = rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** In-place Fisher–Yates shuffle. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/**
 * `n` standard-normal noise values, fast: a table of 65,536 Box–Muller draws indexed by random 16-bit
 * halves of 32-bit draws. Marginally Gaussian, independent across voxels up to table repetition; meant
 * for image noise, not statistics.
 */
export function gaussianNoise(rng: Rng, n: number): Float32Array {
  const normal = normalSource(rng);
  const table = new Float32Array(65536);
  for (let i = 0; i < table.length; i++) table[i] = normal();
  const out = new Float32Array(n);
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const u = (rng() * 4294967296) >>> 0;
    out[i] = table[u & 0xffff];
    out[i + 1] = table[u >>> 16];
  }
  if (i < n) out[i] = table[(rng() * 65536) >>> 0];
  return out;
}
