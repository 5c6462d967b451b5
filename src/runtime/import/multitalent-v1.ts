/**
 * The 47 outputs of MultiTalent's released nnU-Net v1 models (the MultiTalent trainers), in output
 * channel order, as the stdlib declares their classes (std/datasets/multitalent, the paper's Table 3).
 * The trainers keep this table in code, not in the checkpoint: output k is the k-th region of the
 * authors' collection (its key in their region table is `source`).
 * test/runtime/import/multitalent-v1.test.ts checks every entry against the stdlib declarations.
 */
export interface MultiTalentOutput {
  /** The region's key in the authors' table. */
  source: string;
  dataset: string;
  class: string;
  /** Label values of the source dataset whose union the output is. */
  labels: number[];
  tags: string[];
}

const c = (source: string, dataset: string, cls: string, labels: number[], tags: string[] = []): MultiTalentOutput => ({ source, dataset, class: cls, labels, tags });

export const MULTITALENT_STDLIB = 'std/datasets/multitalent';

export const MULTITALENT_V1_OUTPUTS: readonly MultiTalentOutput[] = [
  c('03_liver', 'msd_liver', 'liver', [1, 2]),
  c('03_cancer', 'msd_liver', 'liver_tumour', [2], ['cancer']),
  c('06_lungnodule', 'msd_lung', 'lung_nodules', [1], ['cancer']),
  c('07_pancreas', 'msd_pancreas', 'pancreas', [1, 2]),
  c('07_pancreas_cancer', 'msd_pancreas', 'pancreas_tumour', [2], ['cancer']),
  c('08_vessel', 'msd_hepatic_vessel', 'hepatic_vessels', [1]),
  c('08_tumor', 'msd_hepatic_vessel', 'hepatic_tumour', [2], ['cancer']),
  c('09_spleen', 'msd_spleen', 'spleen', [1]),
  c('10_colon_cancer', 'msd_colon', 'colon_cancer', [1], ['cancer']),
  ...['spleen', 'right_kidney', 'left_kidney', 'gallbladder', 'esophagus', 'liver', 'stomach', 'aorta', 'inferior_vena_cava', 'portal_and_splenic_vein', 'pancreas', 'right_adrenal_gland', 'left_adrenal_gland'].map((n, i) =>
    c(`17_${['spleen', 'right_kidney', 'left_kidney', 'gallbladder', 'esophagus', 'liver', 'stomach', 'aorta', 'inf_vena_cava', 'port_and_splen_vein', 'pancreas', 'right_adrenal_gland', 'left_adrenal_gland'][i]}`, 'btcv', n, [i + 1]),
  ),
  ...['spleen', 'left_kidney', 'gallbladder', 'esophagus', 'liver', 'stomach', 'pancreas', 'duodenum'].map((n, i) => c(`46_${n}`, 'btcv2', n, [i + 1])),
  ...['left_lung', 'right_lung', 'heart', 'esophagus', 'trachea', 'spinal_cord'].map((n, i) =>
    c(`51_${['left_lung', 'right_lung', 'heart', 'esophagus', 'bronchies', 'spinal_cord_nerve_thingy'][i]}`, 'structseg_thorax', n, [i + 1]),
  ),
  ...['esophagus', 'heart', 'trachea', 'aorta'].map((n, i) => c(`55_${n}`, 'segthor', n, [i + 1])),
  c('62_pancreas', 'nih_pancreas', 'pancreas', [1]),
  c('64_both_kidneys', 'kits19', 'kidney', [1, 2]),
  c('64_kidney_tumor', 'kits19', 'kidney_tumour', [2], ['cancer']),
  ...['bladder', 'uterus', 'rectum', 'small_bowel'].map((n, i) => c(`18_${n}`, 'btcv_pelvis', n, [i + 1])),
];
