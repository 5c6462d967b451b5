/**
 * The project's one source of seeded pseudo-random numbers (data synthesis, splits, sampling,
 * augmentation, weight initialisation). Never Math.random: every draw must be reproducible from the
 * seed that the graph records.
 *
 * Two faces of the same generator (sfc32, Chris Doty-Humphrey's Small Fast Counter, 128-bit state):
 * - `Rng`, a plain closure on [0, 1), made by `makeRng(seed, ...name parts)` (the data layer's style);
 * - `Prng`, a class with integers, normals, `fork` and a serialisable `state()` (training's style;
 *   checkpoints store its state to resume exactly).
 */

/** A uniform generator on [0, 1). */
export type Rng = () => number;

/** The full state of a `Prng`: sfc32's four words and the cached second Box-Muller normal. */
export interface PrngState {
  words: [number, number, number, number];
  spareNormal: number | null;
}

/** sfc32 seeded from a 32-bit integer through a splitmix-style mixer (12 warm-up rounds). */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A generator for a seed and name parts, independent of other names (as `makeRng`). */
  static derive(seed: number, ...parts: (string | number)[]): Prng {
    const key = hashString([String(seed >>> 0), ...parts.map(String)].join('\u0000'));
    const p = Prng.fromState({ words: [0x9e3779b9, key, mix32(key ^ 0x243f6a88), (seed >>> 0) ^ 0xb7e15162], spareNormal: null });
    for (let i = 0; i < 12; i++) p.nextUint32(); // warm up: sfc32 needs a few rounds to mix a weak seed
    return p;
  }

  /** A generator continuing exactly from a saved `state()`. */
  static fromState(state: PrngState): Prng {
    const p = new Prng(0);
    [p.a, p.b, p.c, p.d] = state.words.map((w) => w >>> 0) as [number, number, number, number];
    p.spareNormal = state.spareNormal;
    return p;
  }

  /** Everything needed to continue this stream later (JSON-serialisable). */
  state(): PrngState {
    return { words: [this.a, this.b, this.c, this.d], spareNormal: this.spareNormal };
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Prng.int needs a positive integer bound, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  intBetween(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A new generator whose stream is independent of this one's future draws. */
  fork(): Prng {
    return new Prng(this.nextUint32());
  }

  /** This generator as a plain `Rng` closure (draws advance this generator). */
  asRng(): Rng {
    return () => this.next();
  }
}

/** sfc32 from four state words, as a plain closure. */
export function sfc32(a: number, b: number, c: number, d: number): Rng {
  return Prng.fromState({ words: [a, b, c, d], spareNormal: null }).asRng();
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
  return Prng.derive(seed, ...parts).asRng();
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
