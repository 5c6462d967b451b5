import type { HeadSpec, TrainParams, Vec3 } from '../../../src/graph/types.js';
import type { PreprocessedCase, PreprocessedDataset } from '../../../src/runtime/data/types.js';
import { Prng } from '../../../src/runtime/rng.js';

/**
 * A synthetic case: noise background, a bright sphere labelled `value` (radius r, random centre).
 * classVoxels lists every voxel of each region (few enough at this size).
 */
export function blobCase(id: string, dataset: string, shape: Vec3, seed: number, opts: { radius?: number; value?: number; classes?: Record<string, number[]> } = {}): PreprocessedCase {
  const rng = new Prng(seed);
  const [Z, Y, X] = shape;
  const r = opts.radius ?? 3;
  const value = opts.value ?? 1;
  const centre = shape.map((s) => rng.intBetween(r + 1, s - r - 2));
  const image = new Float32Array(Z * Y * X);
  const label = new Uint8Array(Z * Y * X);
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        const i = (z * Y + y) * X + x;
        const inside = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= r * r;
        image[i] = 0.3 * rng.normal() + (inside ? 2 : -0.5);
        if (inside) label[i] = value;
      }
  const classes = opts.classes ?? { blob: [value] };
  const classVoxels: Record<string, Uint32Array> = {};
  for (const [name, labels] of Object.entries(classes)) {
    const idx: number[] = [];
    label.forEach((l, i) => {
      if (labels.includes(l)) idx.push(i);
    });
    classVoxels[name] = Uint32Array.from(idx);
  }
  return { id, dataset, image, label, shape, spacing: [4, 4, 4], classVoxels };
}

export function blobDataset(name: string, n: number, shape: Vec3, seed: number, holdout = 0): PreprocessedDataset {
  const cases = Array.from({ length: n }, (_, i) => blobCase(`${name}_${String(i).padStart(3, '0')}`, name, shape, seed * 1000 + i));
  return { name, cases, train: cases.slice(0, n - holdout).map((c) => c.id), holdout: cases.slice(n - holdout).map((c) => c.id) };
}

export function tinyTrainParams(datasets: string[], heads: HeadSpec[], overrides: Partial<TrainParams> = {}): TrainParams {
  return {
    experiment: 'test',
    datasets,
    heads,
    architecture: { name: 'tiny', kind: 'unet', patch: [16, 16, 16], features: [4, 8], strides: [[1, 1, 1], [2, 2, 2]], convsPerStage: 2 },
    batch: 2,
    sampling: { kind: 'inverse_sqrt', foregroundFraction: 0.33, shares: {} },
    schedule: {
      name: 'tiny',
      optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 },
      epochs: 4,
      iterationsPerEpoch: 10,
      clipNorm: 12,
      phases: [{ trains: 'all', epochs: 4, lr: { kind: 'poly', initial: 0.01, exponent: 0.9 } }],
    },
    loss: 'multitalent',
    seed: 1,
    fold: 0,
    split: { folds: 5, seed: 12345 },
    ...overrides,
  };
}
