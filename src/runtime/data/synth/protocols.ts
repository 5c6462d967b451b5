/**
 * The quickstart collection's annotation protocols: which tissues of the same phantom each dataset
 * labels, and with which values. Images are alike across datasets; protocols differ, and two pairs
 * conflict on purpose (liver with/without tumour in 901 vs 903; aorta whole vs partial in 903 vs 904),
 * which is what MultiTalent's per-dataset output heads are for.
 */
import type { ClassSpec } from '../../../graph/types.js';
import { type Anatomy, Tissue } from './phantom.js';

export interface QuickstartDataset {
  /** nnU-Net folder name. */
  folder: string;
  /** Case identifier prefix (`liver` gives `liver_000`, ...). */
  casePrefix: string;
  /** dataset.json labels, in order. */
  labels: Record<string, number>;
  /** Default number of cases. */
  cases: number;
  /** Suggested output classes (regions) for a `.mt` experiment. */
  classes: ClassSpec[];
  description: string;
  /** Label value of each voxel from the case's tissue map. */
  annotate(tissue: Uint8Array, anatomy: Anatomy): Uint8Array;
}

function mapTissue(tissue: Uint8Array, table: Partial<Record<number, number>>): Uint8Array {
  const lut = new Uint8Array(256);
  for (const [t, v] of Object.entries(table)) lut[Number(t)] = v ?? 0;
  const out = new Uint8Array(tissue.length);
  for (let i = 0; i < tissue.length; i++) out[i] = lut[tissue[i]];
  return out;
}

export const QUICKSTART_DATASETS: readonly QuickstartDataset[] = [
  {
    folder: 'Dataset901_SynthLiver',
    casePrefix: 'liver',
    labels: { background: 0, liver: 1, liver_tumour: 2 },
    cases: 12,
    classes: [
      { name: 'liver', labels: [1, 2], tags: [] },
      { name: 'liver_tumour', labels: [2], tags: ['cancer', 'difficult'] },
    ],
    description: 'Synthetic CT; liver parenchyma labelled 1, liver tumours 2 (like MSD Task03).',
    annotate: (t) => mapTissue(t, { [Tissue.LIVER]: 1, [Tissue.LIVER_TUMOUR]: 2 }),
  },
  {
    folder: 'Dataset902_SynthLiverTumour',
    casePrefix: 'livertumour',
    labels: { background: 0, liver_tumour: 1 },
    cases: 8,
    classes: [{ name: 'liver_tumour', labels: [1], tags: ['cancer', 'difficult'] }],
    description: 'Synthetic CT; only liver tumours are annotated (1); the liver is in the image but unlabelled.',
    annotate: (t) => mapTissue(t, { [Tissue.LIVER_TUMOUR]: 1 }),
  },
  {
    folder: 'Dataset903_SynthAbdomen',
    casePrefix: 'abdomen',
    labels: { background: 0, liver: 1, spleen: 2, aorta: 3 },
    cases: 6,
    classes: [
      { name: 'liver', labels: [1], tags: [] },
      { name: 'spleen', labels: [2], tags: [] },
      { name: 'aorta', labels: [3], tags: [] },
    ],
    description: 'Synthetic CT; liver (including any tumour) 1, spleen 2, aorta along its whole length 3.',
    annotate: (t) => mapTissue(t, { [Tissue.LIVER]: 1, [Tissue.LIVER_TUMOUR]: 1, [Tissue.SPLEEN]: 2, [Tissue.AORTA]: 3 }),
  },
  {
    folder: 'Dataset904_SynthVessel',
    casePrefix: 'vessel',
    labels: { background: 0, aorta: 1, spleen: 2 },
    cases: 10,
    classes: [
      { name: 'aorta', labels: [1], tags: [] },
      { name: 'spleen', labels: [2], tags: [] },
    ],
    description: 'Synthetic CT; aorta 1 annotated only down to the level of the kidneys (the vessel continues below), spleen 2.',
    annotate: (t, a) => {
      const out = mapTissue(t, { [Tissue.AORTA]: 1, [Tissue.SPLEEN]: 2 });
      const [nz, ny, nx] = a.shape;
      const slice = ny * nx;
      for (let k = 0; k < nz; k++) {
        if (a.origin[2] + k * a.spacing[0] >= a.kidneyLevelZ) continue; // superior to the kidneys: keep
        for (let p = k * slice; p < (k + 1) * slice; p++) if (out[p] === 1) out[p] = 0;
      }
      return out;
    },
  },
  {
    folder: 'Dataset905_SynthKidney',
    casePrefix: 'kidney',
    labels: { background: 0, kidney: 1, kidney_tumour: 2 },
    // 20 cases: the quickstart evaluates on the 20 % held out, and 4 cases give a steadier mean than 2.
    cases: 20,
    classes: [
      { name: 'kidney', labels: [1, 2], tags: [] },
      { name: 'kidney_tumour', labels: [2], tags: ['cancer', 'difficult'] },
    ],
    description: 'Synthetic CT; both kidneys 1, kidney tumours 2 (like KiTS19). Held out as a fine-tuning target.',
    annotate: (t) => mapTissue(t, { [Tissue.KIDNEY_CORTEX]: 1, [Tissue.KIDNEY_MEDULLA]: 1, [Tissue.KIDNEY_TUMOUR]: 2 }),
  },
];
