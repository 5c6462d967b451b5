/**
 * The runtime graph: the only thing the compiler and the runtime share.
 *
 * The compiler lowers a checked `.mt` program into a `RuntimeGraph`; the runtime validates it
 * against `graphSchema` (see ./schema.ts) and executes its stages in dependency order. Every
 * value here is fully resolved: no defaults are left for the runtime to invent, so the graph
 * written into a run folder is a complete, reproducible description of what ran.
 *
 * Axis convention: every 3-vector (patch, spacing, strides) is ordered [z, y, x], i.e. slowest to
 * fastest axis of a NIfTI volume's voxel array (NIfTI stores x fastest). Tensors are channels-last:
 * [batch, z, y, x, channel].
 */

export const GRAPH_SCHEMA_VERSION = 1 as const;

export type Vec3 = [number, number, number];

/** One output class of a dataset: a region, i.e. a set of the dataset's label values. */
export interface ClassSpec {
  name: string;
  /** Label values (as stored in the dataset's label files) whose union is this class. */
  labels: number[];
  /** Free-form tags (`cancer`, `difficult`, ...) used by reports to group classes. */
  tags: string[];
}

/** The built-in synthetic collection a dataset can be generated from when its folder is missing. */
export interface SyntheticSource {
  /** Name of the built-in generator; `quickstart` is the one that exists today. */
  generator: string;
  seed: number;
}

export interface DatasetSpec {
  /** Declared name in the `.mt` source; unique within the graph. */
  name: string;
  /**
   * nnU-Net raw dataset folder as written in the source. Relative roots are resolved by the
   * runtime against the data root (`--data`, else `MT_DATA`, else `./data`).
   */
  root: string;
  modality: 'CT';
  classes: ClassSpec[];
  /** When set, the runtime synthesises the folder if it is missing. */
  synthetic: SyntheticSource | null;
}

/** One sigmoid output channel of a network: class `name` of dataset `dataset`. */
export interface HeadSpec {
  dataset: string;
  name: string;
  labels: number[];
}

export interface ArchitectureSpec {
  name: string;
  kind: 'unet';
  /** Patch size [z, y, x] in voxels at the experiment's spacing. */
  patch: Vec3;
  /** Feature maps per resolution stage, highest resolution first. */
  features: number[];
  /** Per-stage downsampling strides; stage 0 is always [1, 1, 1]. */
  strides: Vec3[];
  /** Convolution units per stage (encoder and decoder). */
  convsPerStage: number;
}

export type SamplingKind = 'inverse_sqrt' | 'uniform' | 'proportional';

export interface SamplingSpec {
  kind: SamplingKind;
  /** Fraction of each batch forced to contain foreground (nnU-Net: 0.33). */
  foregroundFraction: number;
  /** Resolved share of draws per dataset (sums to 1), for inspection; the runtime recomputes it. */
  shares: Record<string, number>;
}

export type OptimizerSpec =
  | { kind: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adamw'; beta1: number; beta2: number; weightDecay: number };

/** Learning rate as a function of progress within a phase. */
export type LrLaw =
  | { kind: 'constant'; value: number }
  | { kind: 'linear'; from: number; to: number }
  | { kind: 'poly'; initial: number; exponent: number }
  | { kind: 'cosine'; initial: number; final: number };

export interface PhaseSpec {
  /** What the phase trains: only the output heads, or the whole network. */
  trains: 'heads' | 'all';
  epochs: number;
  lr: LrLaw;
}

export interface ScheduleSpec {
  name: string;
  optimizer: OptimizerSpec;
  /** Total epochs; equals the sum of the phases' epochs. */
  epochs: number;
  iterationsPerEpoch: number;
  /** Global gradient-norm clip; 0 disables clipping. */
  clipNorm: number;
  phases: PhaseSpec[];
}

export type NormalizationSpec =
  /** CT: clip to the foreground 0.5/99.5 percentiles, z-score with the foreground mean/std. */
  { kind: 'ct'; scope: 'collection' | 'dataset' };

export interface SplitSpec {
  /** Fraction of each dataset's cases held out for evaluation (at least one case). */
  holdoutFraction: number;
  seed: number;
}

interface StageBase {
  /** Unique id, e.g. `train:pretrain`. */
  id: string;
  /** Ids of stages that must finish first. */
  deps: string[];
}

export interface PrepareStage extends StageBase {
  kind: 'prepare';
  datasets: string[];
}

export interface PreprocessStage extends StageBase {
  kind: 'preprocess';
  datasets: string[];
  spacing: Vec3;
  normalization: NormalizationSpec;
  split: SplitSpec;
}

export interface TrainParams {
  experiment: string;
  datasets: string[];
  heads: HeadSpec[];
  architecture: ArchitectureSpec;
  batch: number;
  sampling: SamplingSpec;
  schedule: ScheduleSpec;
  loss: 'multitalent';
  seed: number;
}

export interface TrainStage extends StageBase, TrainParams {
  kind: 'train';
}

export interface FinetuneStage extends StageBase, TrainParams {
  kind: 'finetune';
  /** The train (or finetune) stage whose backbone weights are copied. */
  from: string;
}

export interface InferenceSpec {
  /** Sliding-window step as a fraction of the patch (nnU-Net: 0.5). */
  stepFraction: number;
  gaussian: boolean;
  mirror: boolean;
}

export interface EvaluateStage extends StageBase {
  kind: 'evaluate';
  experiment: string;
  /** The train/finetune stage whose final weights are evaluated. */
  model: string;
  /** Datasets whose held-out cases are evaluated. */
  datasets: string[];
  inference: InferenceSpec;
}

export interface ReportStage extends StageBase {
  kind: 'report';
  evaluations: string[];
}

export type Stage =
  | PrepareStage
  | PreprocessStage
  | TrainStage
  | FinetuneStage
  | EvaluateStage
  | ReportStage;

export type StageKind = Stage['kind'];

export interface RuntimeGraph {
  schemaVersion: typeof GRAPH_SCHEMA_VERSION;
  /** The `.mt` file the graph was compiled from, and the experiment it runs. */
  source: { file: string; experiment: string };
  seed: number;
  datasets: DatasetSpec[];
  /** Stages in a valid execution order (every dependency precedes its dependants). */
  stages: Stage[];
}
