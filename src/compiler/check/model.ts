/** The checked program: declarations turned into typed models, ready for lowering. */
import type {
  ArchitectureKind, ArchitectureSpec, AugmentationSpec, DatasetSpec, LayerConventions, LossKind, LossOptions, Precision, SamplingKind, ScheduleSpec, Vec3,
} from '../../graph/types.js';
import type { Block, Declaration } from '../ast.js';
import type { Span } from '../source.js';

export type DeclKind = 'dataset' | 'classset' | 'architecture' | 'schedule' | 'sampling' | 'augmentation' | 'experiment' | 'family';

/** How messages name each kind of declaration. */
export const DECL_NOUNS: Record<DeclKind, string> = {
  dataset: 'dataset', classset: 'class set', architecture: 'architecture', schedule: 'schedule',
  sampling: 'sampling', augmentation: 'augmentation profile', experiment: 'experiment', family: 'family',
};

export interface Symbol {
  kind: DeclKind;
  name: string;
  file: string;
  decl: Declaration;
  /** Set for experiments expanded from a family: the family's name. */
  family?: string;
}

export interface DatasetModel {
  spec: DatasetSpec;
  /** Expected number of training cases (`cases N`), used for the sampling shares shown in the graph. */
  cases: number | null;
}

/** A class set: classes as `dataset.class` ids, in a stable order. */
export interface ClassSetModel {
  name: string;
  classes: string[];
  /** The classes it names explicitly (a dataset or dataset.class item, possibly through another set), not only by tag. */
  named: string[];
  /** Where it is declared (its name). */
  span: Span;
}

/** An architecture as written; `spec` is its topology resolved at its own patch and spacing. */
export interface ArchitectureModel {
  name: string;
  kind: ArchitectureKind;
  patch: Vec3;
  /** Its own spacing, or null (then the experiment's). */
  spacing: Vec3 | null;
  stages: number | null;
  features: number[] | null;
  blocks: number[] | null;
  kernels: Vec3[] | null;
  strides: Vec3[] | null;
  deepSupervision: boolean;
  featureSize: number;
  /** Layer conventions (mtc's own unless the declaration gives nnU-Net's, as imported models do). */
  layers: LayerConventions;
  /** Resolved at its own patch and spacing (isotropic when it has none). */
  spec: ArchitectureSpec;
}

export interface SamplingModel {
  name: string;
  kind: SamplingKind;
  foregroundFraction: number;
}

export interface EvaluationModel {
  tta: boolean;
  step: number;
  metrics: Array<'dice' | 'hd95'>;
}

export interface ExperimentModel {
  name: string;
  file: string;
  span: Span;
  datasets: string[];
  /** Null when absent (a fine-tune experiment inherits it). */
  architecture: string | null;
  architectureSpan: Span | null;
  /** Patch override, or null. */
  patch: Vec3 | null;
  patchSpan: Span | null;
  batch: number;
  sampling: { kind: SamplingKind; foregroundFraction: number };
  schedule: string | null;
  spacing: Vec3 | null;
  spacingSpan: Span | null;
  seed: number | null;
  /** An experiment this one fine-tunes, or null. */
  pretrained: string | null;
  pretrainedSpan: Span | null;
  /** A checkpoint file the network starts from, or null. */
  checkpoint: string | null;
  augmentation: AugmentationSpec;
  /**
   * The cross-validation folds to train, one training each; `[null]` (`folds none`): one training on
   * every case of the datasets, nothing held out (nnU-Net's fold 'all'), for a pre-training that is
   * only fine-tuned from.
   */
  folds: Array<number | null>;
  precision: Precision;
  loss: LossKind;
  lossOptions: LossOptions;
  evaluation: EvaluationModel;
  /** Fine-tune targets as `dataset.class` ids, or null for every class of `datasets`. */
  targets: string[] | null;
  allowLeakage: boolean;
  /** Class sets the report summarises. */
  report: string[];
  /** The family this experiment was expanded from, if any. */
  family: string | null;
}

export interface CheckedProgram {
  symbols: Map<string, Symbol>;
  datasets: Map<string, DatasetModel>;
  classsets: Map<string, ClassSetModel>;
  architectures: Map<string, ArchitectureModel>;
  schedules: Map<string, ScheduleSpec>;
  samplings: Map<string, SamplingModel>;
  augmentations: Map<string, AugmentationSpec>;
  experiments: Map<string, ExperimentModel>;
  /** Family name -> the experiments it expands into. */
  families: Map<string, string[]>;
  /** Experiment name -> its architecture resolved at the experiment's patch and spacing (after the chain rules). */
  resolvedArchitectures: Map<string, ArchitectureSpec>;
  /** Experiment name -> its effective spacing. */
  resolvedSpacing: Map<string, Vec3>;
  /**
   * Declaration name -> its block as checked: `extends` merged, family values chosen, --set applied
   * (experiments, and the kinds that can extend: architectures, schedules, samplings, augmentation
   * profiles). resolved.mt prints it.
   */
  blocks: Map<string, Block | null>;
}
