/**
 * Inference benchmarks (`mtc bench infer`): the sliding window of `mtc infer` (tiles, activation,
 * optional mirroring, Gaussian aggregation) timed on a synthetic volume, optionally on its first
 * tiles only with the whole case extrapolated from the time per tile.
 */
import type { ArchitectureSpec, HeadSpec, Vec3 } from '../../graph/types.js';
import { createNetwork } from '../model/registry.js';
import { Prng } from '../rng.js';
import { slidingWindow } from './sliding-window.js';

export interface InferBenchOptions {
  arch: ArchitectureSpec;
  /** Output classes of each network (one entry per network of an ensemble). */
  classes: number[];
  /** Volume [z, y, x] in voxels (at the model's spacing). */
  shape: Vec3;
  mirror: boolean;
  stepFraction?: number;
  /** Time only the first tiles (the rest is extrapolated); default: all. */
  maxTiles?: number;
  /** Classes aggregated per network (default all; 1 keeps a 47-class 512x512x200 case in memory). */
  aggregate?: 'all' | 1;
  seed?: number;
}

export interface InferBenchResult {
  /** Measured milliseconds (all networks). */
  ms: number;
  tiles: number;
  tilesPredicted: number;
  /** ms per tile and network, and the whole case extrapolated from it. */
  msPerTile: number;
  caseMs: number;
  parameters: number;
}

/** A synthetic CT-like normalised volume (smooth structures plus noise), seeded. */
export function syntheticVolume(shape: Vec3, seed = 1): Float32Array {
  const rng = new Prng(seed);
  const [nz, ny, nx] = shape;
  const out = new Float32Array(nz * ny * nx);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const body = ((y - ny / 2) / (0.45 * ny)) ** 2 + ((x - nx / 2) / (0.48 * nx)) ** 2 < 1;
        out[(z * ny + y) * nx + x] = (body ? 0.3 * Math.sin(x / 9) * Math.cos(y / 7 + z / 11) : -2) + 0.1 * rng.normal();
      }
  return out;
}

export async function benchSlidingWindow(o: InferBenchOptions): Promise<InferBenchResult> {
  const networks = o.classes.map((c, k) => {
    const heads: HeadSpec[] = Array.from({ length: c }, (_, i) => ({ dataset: `d${k}`, name: `c${i}`, labels: [1] }));
    return createNetwork(o.arch, heads, (o.seed ?? 1) + k);
  });
  try {
    const image = syntheticVolume(o.shape, o.seed);
    const opts = {
      stepFraction: o.stepFraction ?? 0.5,
      gaussian: true,
      mirror: o.mirror,
      heads: o.aggregate === 1 ? [0] : undefined,
      maxTiles: o.maxTiles,
    };
    // warm-up: one tile of the first network (allocation, kernel set-up)
    await slidingWindow([networks[0]], image, o.shape, { ...opts, maxTiles: 1 }, () => undefined);
    let tiles = 0;
    let predicted = 0;
    const t0 = performance.now();
    for (const n of networks) {
      const r = await slidingWindow([n], image, o.shape, opts, () => undefined);
      tiles = r.tiles;
      predicted = r.tilesPredicted;
    }
    const ms = performance.now() - t0;
    const msPerTile = ms / (predicted * networks.length);
    return { ms, tiles, tilesPredicted: predicted, msPerTile, caseMs: msPerTile * tiles * networks.length, parameters: networks.reduce((s, n) => s + n.parameterCount(), 0) };
  } finally {
    for (const n of networks) n.dispose();
  }
}
