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

import type { TransformKind } from './transforms.js';

/**
 * Version 2: several experiments per graph (`source.experiments`), one `prepare:DATASET` per
 * dataset, preprocessing per normalisation group (`preprocess:NAME`, statistics of its own datasets
 * or of another group's), one training per cross-validation fold (`fold`, `split`), and evaluate and
 * report stages per experiment.
 */
export const GRAPH_SCHEMA_VERSION = 2 as const;

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
  /** Expected number of training cases as declared (`cases N`); null when not declared. The compiler always sets it. */
  cases?: number | null;
  /** Label values the dataset declares (`labels { background 0 liver 1 }`), name -> value; empty when not declared. */
  labels?: Record<string, number>;
  /**
   * A split file (nnU-Net's splits_final.json: a list of { train, val } case-id lists, one per fold),
   * relative to the dataset folder; null: the runtime's seeded k-fold split of the sorted case ids.
   */
  splitFile?: string | null;
}

/** One sigmoid output channel of a network: class `name` of dataset `dataset`. */
export interface HeadSpec {
  dataset: string;
  name: string;
  labels: number[];
}

export type ArchitectureKind = 'unet' | 'resenc_unet' | 'swin_unetr';

/** SwinUNETR's transformer settings (MONAI topology). */
export interface SwinSpec {
  /** Embedding size of the first stage (the paper: 48). */
  featureSize: number;
  /** Swin blocks per transformer stage. */
  depths: number[];
  /** Attention heads per transformer stage. */
  heads: number[];
  /** Attention window, voxels per axis. */
  window: Vec3;
}

/**
 * How the layers compute where PyTorch's nnU-Net and mtc's own networks differ (graph/layers.ts has
 * mtc's values; imported networks carry nnU-Net's).
 */
export interface LayerConventions {
  /**
   * Padding of strided convolutions: `end` pads after the data only (TensorFlow's 'same', mtc's own
   * networks); `symmetric` pads (k - 1) / 2 on both sides (PyTorch, nnU-Net). Unstrided
   * convolutions are padded symmetrically either way.
   */
  padding: 'end' | 'symmetric';
  /**
   * resenc_unet's skip where a block changes resolution or channels: `strided_conv` (a strided
   * 1x1x1 convolution with bias + InstanceNorm) or `avgpool_conv` (nnU-Net v2's BasicBlockD:
   * average pooling by the stride, then, where the channels change, a 1x1x1 convolution without
   * bias + InstanceNorm).
   */
  residualSkip: 'strided_conv' | 'avgpool_conv';
  /** The encoder's and decoder's convolutions have biases. */
  convBias: boolean;
  /** The decoder's transposed convolutions have biases (nnU-Net v1: none). */
  upsampleBias: boolean;
  /** The 1x1x1 output convolutions have biases (nnU-Net v1: none). */
  headBias: boolean;
  /**
   * The kernel of decoder stage i's convolutions: `stage` (stage i's, mtc and nnU-Net v2) or
   * `deeper` (stage i + 1's, as nnU-Net v1's Generic_UNet builds its decoder).
   */
  decoderKernels: 'stage' | 'deeper';
}

export interface ArchitectureSpec {
  name: string;
  /** The network kind; the runtime builds each through its network registry (src/runtime/model/registry.ts). */
  kind: ArchitectureKind;
  /** Patch size [z, y, x] in voxels at the experiment's spacing. */
  patch: Vec3;
  /** Feature maps per resolution stage, highest resolution first. */
  features: number[];
  /** Per-stage downsampling strides; stage 0 is always [1, 1, 1]. */
  strides: Vec3[];
  /**
   * Convolution units per stage: encoder and decoder of `unet` (2); decoder only of `resenc_unet`
   * (1; its encoder has `blocksPerStage` residual blocks); each residual unit of `swin_unetr` (2).
   */
  convsPerStage: number;
  /** Convolution kernel per stage [z, y, x] (3, or 1 on an axis much coarser than the finest). Always set by the compiler. */
  kernels?: Vec3[];
  /** Residual blocks per encoder stage (`resenc_unet` only). */
  blocksPerStage?: number[];
  /** Deep supervision: loss at every decoder resolution (weights 1/2^i, lowest 0, normalised). Always set by the compiler. */
  deepSupervision?: boolean;
  /** Transformer settings (`swin_unetr` only). */
  swin?: SwinSpec;
  /** The spacing [z, y, x] mm the topology was derived for. Always set by the compiler. */
  spacing?: Vec3;
  /** Layer conventions (graph/layers.ts; absent: mtc's own). Always set by the compiler. */
  layers?: LayerConventions;
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
  | {
      kind: 'adamw';
      beta1: number;
      beta2: number;
      weightDecay: number;
      /** AMSGrad (the running maximum of the second moment; the MultiTalent authors' heads phase). Always set by the compiler. */
      amsgrad?: boolean;
    };

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
  /**
   * The phase's optimiser (the schedule's unless the phase sets its own). Optimiser state carries
   * over from the previous phase when both use the same optimiser (equal specs); a phase with a
   * different one starts from fresh state. Always set by the compiler.
   */
  optimizer?: OptimizerSpec;
}

export interface ScheduleSpec {
  name: string;
  /** The schedule's optimiser: the default of its phases (each phase records the one it uses). */
  optimizer: OptimizerSpec;
  /** Total epochs; equals the sum of the phases' epochs. */
  epochs: number;
  iterationsPerEpoch: number;
  /**
   * Validation batches per epoch (nnU-Net: 50), drawn from the fold's validation cases: the same
   * patches every epoch, scored with nnU-Net's pseudo-Dice (its moving average picks the `best`
   * checkpoint); 0 turns validation off. Always set by the compiler.
   */
  validationIterations?: number;
  /** Epochs between two `latest` checkpoints (resume points). Does not change results. Always set by the compiler. */
  checkpointEvery?: number;
  /** Global gradient-norm clip; 0 disables clipping. */
  clipNorm: number;
  phases: PhaseSpec[];
}

/**
 * CT: clip to the foreground 0.5/99.5 percentiles, z-score with the foreground mean/std.
 * `scope`: statistics pooled over the stage's datasets (`collection`, MultiTalent's one global
 * scheme) or per dataset. `statsFrom`: the id of another preprocess stage whose statistics are used
 * instead (a fine-tune target is normalised like its pre-training: "identical configuration as the
 * source training"); null: computed from this stage's own datasets.
 */
export interface NormalizationSpec {
  kind: 'ct';
  scope: 'collection' | 'dataset';
  statsFrom: string | null;
}

/**
 * Cross-validation split of each dataset: its split file when it has one (DatasetSpec.splitFile),
 * else a shuffle of its sorted case ids seeded with (seed, dataset name) cut into `folds` parts.
 * Fold k trains on the other parts and validates on part k (the 20 % "hold-out" of fold 0).
 */
export interface SplitSpec {
  folds: number;
  seed: number;
}

interface StageBase {
  /** Unique id, e.g. `train:pretrain`. */
  id: string;
  /** Ids of stages that must finish first. */
  deps: string[];
}

/** `prepare:DATASET`: the dataset's folder exists (synthesised when it is synthetic and missing) and is hashed. */
export interface PrepareStage extends StageBase {
  kind: 'prepare';
  /** Exactly one dataset. */
  datasets: string[];
}

/** `preprocess:NAME`: crop, CT-normalise and resample every case of its datasets. */
export interface PreprocessStage extends StageBase {
  kind: 'preprocess';
  datasets: string[];
  spacing: Vec3;
  normalization: NormalizationSpec;
}

/**
 * One augmentation transform: applied with probability `p`, its parameter drawn from `range` (what
 * each transform's range means and how it is drawn: graph/transforms.ts).
 */
export interface AugmentTransform {
  kind: TransformKind;
  /** Probability per sample (for `mirror`: per axis). */
  p: number;
  /** [low, high] of the parameter (degrees, factor, std, sigma, zoom, gamma); absent for `mirror`. */
  range?: [number, number];
  /** Axes the transform acts on (0 = z, 1 = y, 2 = x). */
  axes?: number[];
}

export interface AugmentationSpec {
  /** Profile name (`none`: no augmentation). */
  name: string;
  /** In the order they are applied: nnU-Net's (graph/transforms.ts, TRANSFORM_KINDS). */
  transforms: AugmentTransform[];
}

export type Precision = 'fp32' | 'mixed';

export type LossKind = 'multitalent' | 'dice_ce';

/** Options of the loss. */
export interface LossOptions {
  /**
   * Dice pooled over the whole batch (true: the paper's batch Dice, nnU-Net's `batch_dice`) or
   * computed per case and then summed (multitalent, the authors' code on one GPU) or averaged
   * (dice_ce, nnU-Net's sample Dice).
   */
  batchDice: boolean;
}

/**
 * How a network's output channels relate to its classes (the heads), and so how targets are built
 * and predictions turned into class masks. The one definition is src/graph/outputs.ts.
 * - `sigmoid`: one channel per head, in `heads` order, each an independent sigmoid; targets are the
 *   heads' region masks; a class's prediction is p > 0.5 (classes may overlap).
 * - `softmax`: one channel per label value, `labels[k]` for channel k, `labels[0]` = 0 the background
 *   (every value no class names counts as background); targets are the one-hot label map; a class's
 *   prediction is argmax over the channels falling on one of its labels (classes never overlap).
 */
export type OutputLayout =
  | { activation: 'sigmoid' }
  | { activation: 'softmax'; labels: number[] };

export interface TrainParams {
  experiment: string;
  datasets: string[];
  heads: HeadSpec[];
  architecture: ArchitectureSpec;
  batch: number;
  sampling: SamplingSpec;
  schedule: ScheduleSpec;
  /**
   * `multitalent`: the paper's masked sigmoid BCE - Dice, summed over classes; `dice_ce`: nnU-Net's
   * Dice + CE for one dataset (softmax Dice + CE over the labels, or sigmoid Dice + BCE when a class
   * is a region, as nnU-Net's region-based training).
   */
  loss: LossKind;
  /** The loss's options. Always set by the compiler. */
  lossOptions?: LossOptions;
  /** The output channels' layout (sigmoid per class, or softmax over labels). Always set by the compiler. */
  output?: OutputLayout;
  seed: number;
  /** Augmentation profile. Always set by the compiler. */
  augmentation?: AugmentationSpec;
  /**
   * The cross-validation fold this stage trains (0-based): it trains on the other folds' cases and
   * validates on its own. null (`folds none`): it trains on every case of its datasets and validates
   * on none (nnU-Net's fold 'all'): a pre-training whose datasets nothing evaluates.
   */
  fold: number | null;
  split: SplitSpec;
  /** Arithmetic: fp32, or mixed (fp16 autocast where available). Always set by the compiler. */
  precision?: Precision;
  /** Initial weights from a checkpoint file (train stages only); null: random initialisation. Always set by the compiler. */
  checkpoint?: string | null;
  /** Classes (dataset.class) restricting the heads (fine-tune targets), or null for all classes of `datasets`. */
  targets?: string[] | null;
}

export interface TrainStage extends StageBase, TrainParams {
  kind: 'train';
  /** The preprocess stage whose cases it trains on. */
  data: string;
}

/**
 * Fine-tuning. Every fold of a fine-tune starts from the same pre-trained model (`from`): the
 * pre-training's first fold, as the paper fine-tunes five folds from one MultiTalent model.
 */
export interface FinetuneStage extends StageBase, TrainParams {
  kind: 'finetune';
  /** The preprocess stage whose cases it trains on (normalised with the pre-training's statistics). */
  data: string;
  /** The train (or finetune) stage whose backbone weights are copied. */
  from: string;
}

export interface InferenceSpec {
  /** Sliding-window step as a fraction of the patch (nnU-Net: 0.5). */
  stepFraction: number;
  gaussian: boolean;
  mirror: boolean;
}

/**
 * Cross-validation: every fold's model predicts its own validation cases, and the per-case results
 * of all folds form one result (each case evaluated once, by the model that did not train on it).
 */
export interface EvaluateStage extends StageBase {
  kind: 'evaluate';
  experiment: string;
  /** The train/finetune stage of each fold whose final weights are evaluated. */
  models: Array<{ fold: number; stage: string }>;
  /** The preprocess stage holding the evaluated cases. */
  data: string;
  /** Datasets whose validation cases are evaluated. */
  datasets: string[];
  split: SplitSpec;
  inference: InferenceSpec;
  /** Metrics to compute: `dice`, `hd95`. Always set by the compiler. */
  metrics?: Array<'dice' | 'hd95'>;
}

/** A named group of classes (`dataset.class`) that a report summarises. */
export interface ClassSetSpec {
  name: string;
  classes: string[];
}

export interface ReportStage extends StageBase {
  kind: 'report';
  experiment: string;
  evaluations: string[];
  /** Class groups to summarise (class sets, and one per class tag). Always set by the compiler. */
  classSets?: ClassSetSpec[];
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
  /** The `.mt` file the graph was compiled from, and the experiments it runs (their stages share prepare and preprocess). */
  source: { file: string; experiments: string[] };
  datasets: DatasetSpec[];
  /** Stages in a valid execution order (every dependency precedes its dependants). */
  stages: Stage[];
}
