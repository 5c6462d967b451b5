/** Tiny raw nnU-Net datasets for data-layer tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClassSpec, Vec3 } from '../../../src/graph/types.js';
import { type Affine, diagonalAffine } from '../../../src/runtime/data/nifti/affine.js';
import { writeNifti } from '../../../src/runtime/data/nifti/index.js';

export const SHAPE: Vec3 = [6, 8, 10];
export const SPACING: Vec3 = [3, 1, 1];
export const N = SHAPE[0] * SHAPE[1] * SHAPE[2];

/** A CT-like image (air outside a body box) and a label with an organ (1) and a lesion (2). */
export function caseArrays(seed: number): { image: Float32Array; label: Uint8Array } {
  const image = new Float32Array(N).fill(-1000);
  const label = new Uint8Array(N);
  for (let z = 0; z < SHAPE[0]; z++) {
    for (let y = 1; y < SHAPE[1] - 1; y++) {
      for (let x = 1; x < SHAPE[2] - 1; x++) {
        const i = (z * SHAPE[1] + y) * SHAPE[2] + x;
        image[i] = 40 + ((i * 7919 + seed * 104729) % 41) - 20;
        if (y >= 3 && y < 6 && x >= 3 && x < 7 && z >= 1 && z < 5) {
          label[i] = 1;
          image[i] = 120 + ((i + seed) % 9);
        }
        if (y === 4 && x === 4 && z >= 2 && z < 4) {
          label[i] = 2;
          image[i] = 60;
        }
      }
    }
  }
  return { image, label };
}

export const DATASET_JSON = { channel_names: { '0': 'CT' }, labels: { background: 0, organ: 1, lesion: 2 }, numTraining: 3, file_ending: '.nii.gz' };

export const FIXTURE_AFFINE: Affine = diagonalAffine(SPACING, [-4, 10, 7]);

export async function writeDataset(dir: string, cases = 3, affine: Affine = FIXTURE_AFFINE): Promise<void> {
  mkdirSync(join(dir, 'imagesTr'), { recursive: true });
  mkdirSync(join(dir, 'labelsTr'), { recursive: true });
  for (let c = 0; c < cases; c++) {
    const id = `case_${String(c).padStart(3, '0')}`;
    const { image, label } = caseArrays(c);
    await writeNifti(join(dir, 'imagesTr', `${id}_0000.nii.gz`), { data: image, shape: SHAPE, spacing: SPACING }, { datatype: 'int16', affine });
    await writeNifti(join(dir, 'labelsTr', `${id}.nii.gz`), { data: label, shape: SHAPE, spacing: SPACING }, { datatype: 'uint8', affine });
  }
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ ...DATASET_JSON, numTraining: cases }));
}

export const CLASSES: ClassSpec[] = [
  { name: 'organ', labels: [1, 2], tags: [] },
  { name: 'lesion', labels: [2], tags: ['cancer'] },
];
