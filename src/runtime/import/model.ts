/** What an import produces, before it is written (./write.ts): the model, its classes and the facts of its plans. */
import type { ArchitectureSpec, HeadSpec, Vec3 } from '../../graph/types.js';
import type { MappingReport } from './mapping.js';

export interface ImportedClass {
  name: string;
  /** Label values of the dataset whose union is the class (a region). */
  labels: number[];
  tags: string[];
}

/** A dataset the imported classes belong to, as the generated `.mt` declares it (or imports it from the stdlib). */
export interface ImportedDataset {
  name: string;
  /** nnU-Net raw dataset folder name. */
  root: string;
  /** name -> value, background included; empty when the plans name no label values. */
  labels: Record<string, number>;
  classes: ImportedClass[];
  cases: number | null;
  /** Declared by this stdlib module instead of the generated file (MultiTalent's collection). */
  stdlib: string | null;
}

export interface CtNormalization {
  mean: number;
  std: number;
  p005: number;
  p995: number;
}

export interface ImportedFold {
  fold: number | null;
  /** The checkpoint file read. */
  file: string;
  weights: Map<string, Float32Array>;
  mapping: MappingReport;
}

export interface ImportedModel {
  source: {
    format: 'nnunet-v2' | 'nnunet-v1';
    /** The model folder (or the file given). */
    path: string;
    network: 'PlainConvUNet' | 'ResidualEncoderUNet' | 'Generic_UNet';
    trainer: string;
    /** nnU-Net v2 configuration (3d_fullres, 3d_lowres); v1: the plans stage. */
    configuration: string;
    serialisation: 'zip' | 'legacy';
  };
  architecture: ArchitectureSpec;
  /** The network's output channels, in order (softmax: background first). */
  heads: HeadSpec[];
  activation: 'sigmoid' | 'softmax';
  datasets: ImportedDataset[];
  preprocessing: {
    spacing: Vec3;
    normalization: CtNormalization;
    /**
     * nnU-Net's image reader: `stored` (SimpleITKIO, NibabelIO: the file's own voxel order) or
     * `ras` (NibabelIOWithReorient, and the MultiTalent collection, reoriented to RAS before
     * training). mtc always uses the closest canonical RAS+ order; the two agree for scans stored in RAS.
     */
    nnunetVoxelOrder: 'stored' | 'ras';
    /** The plans' image resampling order (nnU-Net: 3) and separate-z resampling of anisotropic data. */
    imageInterpolation: 0 | 1 | 3;
  };
  /** Test-time mirroring as nnU-Net allows it for this model (false for trainers without mirroring, e.g. TotalSegmentator's). */
  mirror: boolean;
  /** Things the user should know (refused nothing, but differs from nnU-Net). */
  notes: string[];
  folds: ImportedFold[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A `.mt` identifier from a free-form name: lower case, runs of other characters as `_`, a
 * leading letter; `reserved` words get a trailing `_`.
 */
export function identifier(raw: string, reserved: readonly string[], fallback: string): string {
  let s = raw
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') s = fallback;
  if (!/^[a-z]/.test(s)) s = `${fallback}_${s}`;
  if (reserved.includes(s)) s = `${s}_`;
  return IDENTIFIER.test(s) ? s : fallback;
}

/** Names made unique by a numeric suffix, in order. */
export function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = seen.get(n) ?? 0;
    seen.set(n, k + 1);
    return k === 0 ? n : `${n}_${k + 1}`;
  });
}
