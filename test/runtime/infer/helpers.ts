/** Models and images for inference tests. */
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, DatasetSpec, HeadSpec, Vec3 } from '../../../src/graph/types.js';
import type { Affine } from '../../../src/runtime/data/nifti/affine.js';
import { writeNifti } from '../../../src/runtime/data/nifti/index.js';
import type { LoadedNetwork } from '../../../src/runtime/infer/model-source.js';
import { buildPlans, writePlans } from '../../../src/runtime/infer/plans.js';
import { saveCheckpoint } from '../../../src/runtime/model/checkpoint.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { tinyTrainParams } from '../train/helpers.js';

export const STATS = { mean: 100, std: 200, p005: -1000, p995: 1000, samples: 1000 };

/**
 * A stand-in network whose logit for channel c is gain * (x - level_c) at every voxel (x: the
 * normalised intensity), so that the probability of a class is a known function of the CT.
 */
export class LevelNet implements LoadedNetwork {
  readonly architecture: ArchitectureSpec;
  constructor(
    readonly heads: HeadSpec[],
    private readonly levels: number[],
    patch: Vec3 = [8, 8, 8],
    private readonly gain = 40,
  ) {
    this.architecture = { name: 'level', kind: 'unet', patch, features: [2, 4], strides: [[1, 1, 1], [2, 2, 2]], convsPerStage: 2 };
  }
  apply(x: tf.Tensor5D): tf.Tensor5D {
    return tf.tidy(() => tf.concat(this.levels.map((l) => tf.mul(tf.sub(x, l), this.gain)), 4) as tf.Tensor5D);
  }
  dispose(): void {}
}

/** The normalised value of `hu` under STATS (what LevelNet levels are written in). */
export function normalised(hu: number): number {
  const v = Math.min(STATS.p995, Math.max(STATS.p005, hu));
  return (v - STATS.mean) / STATS.std;
}

export const ORGAN_HEADS: HeadSpec[] = [
  { dataset: 'abdomen', name: 'organ', labels: [1, 2] },
  { dataset: 'abdomen', name: 'lesion', labels: [2] },
];

export const ABDOMEN: DatasetSpec = {
  name: 'abdomen',
  root: 'abdomen',
  modality: 'CT',
  classes: [
    { name: 'organ', labels: [1, 2], tags: [] },
    { name: 'lesion', labels: [2], tags: ['cancer'] },
  ],
  synthetic: null,
  labels: { background: 0, organ: 1, lesion: 2 },
};

/** A checkpoint folder (model.json, weights.bin, plans.json) of a tiny U-Net for `heads`. */
export async function writeModelDir(dir: string, opts: { heads?: HeadSpec[]; spacing?: Vec3; datasets?: DatasetSpec[]; seed?: number; patch?: Vec3 } = {}): Promise<void> {
  const heads = opts.heads ?? ORGAN_HEADS;
  const names = [...new Set(heads.map((h) => h.dataset))];
  const params = tinyTrainParams(names, heads);
  params.architecture = { ...params.architecture, patch: opts.patch ?? [8, 8, 8] };
  const model = UNet.create(params.architecture, heads, opts.seed ?? 1);
  try {
    await saveCheckpoint(model, dir);
  } finally {
    model.dispose();
  }
  await writePlans(
    dir,
    buildPlans({
      stageId: 'train:test',
      params,
      datasets: opts.datasets ?? [ABDOMEN],
      normalization: { kind: 'ct', scope: 'collection', statsFrom: null },
      statistics: Object.fromEntries(names.map((n) => [n, STATS])),
      activation: 'sigmoid',
      spacing: opts.spacing ?? [2, 2, 2],
    }),
  );
}

/**
 * A CT [z, y, x] (stored order): zero margin of one voxel (cropped away), body at 40 HU, an organ box
 * at 200 HU and a lesion inside it at 400 HU.
 */
export function phantomCt(shape: Vec3): { image: Float32Array; organ: Uint8Array; lesion: Uint8Array } {
  const [nz, ny, nx] = shape;
  const image = new Float32Array(nz * ny * nx);
  const organ = new Uint8Array(image.length);
  const lesion = new Uint8Array(image.length);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        const margin = z === 0 || y === 0 || x === 0 || z === nz - 1 || y === ny - 1 || x === nx - 1;
        if (margin) continue;
        const inBody = y > 2 && y < ny - 2;
        image[i] = inBody ? 40 + ((i * 37) % 11) - 5 : -1000;
        const inOrgan = z >= 2 && z < nz - 2 && y >= 4 && y < ny - 4 && x >= 3 && x < Math.floor(nx / 2) + 2;
        if (inOrgan) {
          image[i] = 200;
          organ[i] = 1;
        }
        if (inOrgan && x >= 5 && x < 8 && y >= 6 && y < 9) {
          image[i] = 400;
          lesion[i] = 1;
        }
      }
  return { image, organ, lesion };
}

export async function writeCt(path: string, data: ArrayLike<number>, shape: Vec3, spacing: Vec3, affine?: Affine, datatype: 'int16' | 'float32' | 'uint8' = 'int16'): Promise<void> {
  await writeNifti(path, { data, shape, spacing }, { datatype, affine });
}
