/**
 * What every field of every block means, and what kind of value it takes: the text of the field
 * tables in docs/language.md (a test keeps the two identical) and what editors show on hover and
 * offer on completion. Field names come from BLOCK_FIELDS (the checker's list), option words from
 * the checker's own constants, so none of this can drift from what `mtc check` accepts.
 */
import { ARCHITECTURE_KINDS, LAYER_OPTIONS, MAX_STAGES } from './check/architectures.js';
import { TRANSFORM_KINDS, transformDeclaration, type TransformKind } from '../graph/transforms.js';
import { SYNTHETIC_GENERATORS } from './check/datasets.js';
import { LOSSES, METRICS, PRECISIONS, SAMPLING_KINDS } from './check/experiments.js';
import { BLOCK_FIELDS, type BlockKind } from './check/fields.js';
import type { DeclKind } from './check/model.js';
import { LR_LAWS, OPTIMIZERS } from './check/schedules.js';

export interface FieldDoc {
  /** What the field takes (the docs table's "value" column, markdown). */
  value: string;
  /** Its default when left out (the "default" column; empty when it is required). */
  default: string;
}

/** What a field's value is made of, for completion. */
export interface FieldValue {
  /** Declarations of these kinds may be named here. */
  refs?: readonly DeclKind[];
  /** Option words accepted here (bare names, or calls such as `poly(...)`). */
  words?: readonly string[];
  /** Calls accepted here, with their parameter names. */
  calls?: Readonly<Record<string, readonly string[]>>;
  /** `true` / `false`. */
  bool?: boolean;
}

const params = (table: Record<string, ReadonlyArray<{ name: string }>>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(table).map(([k, ps]) => [k, ps.map((p) => p.name)]));

const LAWS = params(LR_LAWS);
const CLASS_ITEMS: FieldValue = { refs: ['dataset', 'classset'], calls: { tagged: ['tag'] } };
const TRANSFORM_NAMES: readonly string[] = TRANSFORM_KINDS;

/** One line about each kind of block. */
export const BLOCK_DOCS: Record<BlockKind, string> = {
  dataset: 'A CT dataset in nnU-Net raw format, and which of its label values form each class.',
  classset: 'A named group of classes, for reports and fine-tune targets.',
  architecture: 'A network: kind, patch, and a topology derived from patch and spacing unless given.',
  schedule: 'Optimiser, learning-rate law, epochs, iterations, gradient clipping and training phases.',
  phase: 'A training phase: what trains (heads or all) for how many epochs, under which learning-rate law.',
  sampling: 'How cases are drawn: the sampling law and the foreground fraction.',
  augmentation: "An augmentation profile: transforms applied per sample in nnU-Net's order, whatever the order written.",
  transform: 'One augmentation transform: its probability, range and axes.',
  evaluation: 'How held-out cases are evaluated: test-time augmentation, sliding-window step, metrics.',
  experiment: 'One training run: datasets, network, schedule, sampling and how it is evaluated.',
};

type Docs = { [K in BlockKind]: Record<(typeof BLOCK_FIELDS)[K][number], FieldDoc> };

/** A transform's row, from its declaration in graph/transforms.ts. */
const transform = (kind: TransformKind): FieldDoc => {
  const d = transformDeclaration(kind);
  const fields = ['p P', d.range ? 'range [low, high]' : null, d.axes ? 'axes [z, y, x]' : null].filter(Boolean).join('  ');
  const note = d.range && !d.range.required ? ' (the range only when p > 0)' : '';
  return { value: `\`{ ${fields} }\`${note}: ${d.range?.meaning ?? d.does}`, default: 'off' };
};

export const FIELD_DOCS: Docs = {
  dataset: {
    root: { value: 'string, required', default: '' },
    modality: { value: '`CT`', default: '`CT`' },
    cases: { value: 'whole number ≥ 1', default: 'unknown (see sampling)' },
    labels: { value: 'block of `NAME VALUE` (0–255, each value once)', default: 'none' },
    classes: { value: 'block of `NAME LABELS [tags TAGS]`, required', default: '' },
    split: { value: "string: a split file (nnU-Net's splits_final.json) in the dataset folder", default: 'a seeded 5-fold split (see Folds)' },
    synthetic: { value: 'generator name: `quickstart`', default: 'none' },
    seed: { value: "the synthetic generator's seed (only with `synthetic`)", default: '0' },
  },
  classset: {
    classes: { value: 'list of classes: a dataset (all its classes), `dataset.class`, `tagged(TAG, ...)`, another class set; required', default: '' },
    exclude: { value: 'list of classes (as in `classes`) removed from them', default: 'none' },
  },
  architecture: {
    kind: { value: '`unet`, `resenc_unet` or `swin_unetr`', default: '`unet`' },
    patch: { value: '`[z, y, x]` voxels, required', default: '' },
    spacing: { value: '`[z, y, x]` mm', default: "the experiment's" },
    stages: { value: `whole number 2–${MAX_STAGES}: resolution stages`, default: 'as many as the patch allows' },
    features: { value: 'list of whole numbers, one per stage', default: 'min(32 · 2^i, 320)' },
    blocks: { value: 'list of residual blocks per encoder stage (`resenc_unet`)', default: '`[1, 3, 4, 6, 6, 6]`' },
    kernels: { value: 'list of odd `[z, y, x]` per stage', default: 'derived from the spacing' },
    strides: { value: 'list of `[z, y, x]` per stage, the first `[1, 1, 1]`', default: 'derived from patch and spacing' },
    deep_supervision: { value: '`true` or `false`', default: '`true` (`false` for `swin_unetr`)' },
    feature_size: { value: 'multiple of 12: the embedding size (`swin_unetr`)', default: '48' },
    padding: { value: "`end` (strided convolutions pad after the data only, TensorFlow's 'same') or `symmetric` ((k-1)/2 on both sides, PyTorch)", default: '`end`' },
    residual_skip: { value: '`resenc_unet` only: `strided_conv` (strided 1x1x1 conv with bias + IN) or `avgpool_conv` (average pooling by the stride, then a bias-free 1x1x1 conv + IN where the width changes: BasicBlockD)', default: '`strided_conv`' },
    conv_bias: { value: '`true` or `false`: the convolutions have biases', default: '`true`' },
    upsample_bias: { value: '`true` or `false`: the transposed convolutions have biases', default: '`true`' },
    head_bias: { value: '`true` or `false`: the 1x1x1 output convolutions have biases', default: '`true`' },
    decoder_kernels: { value: "`stage` (decoder stage i uses stage i's kernel) or `deeper` (stage i + 1's)", default: '`stage`' },
  },
  schedule: {
    optimizer: { value: '`sgd(momentum, nesterov, weight_decay)` or `adamw(beta1, beta2, weight_decay, amsgrad)`, named arguments', default: '`sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)`; adamw 0.9, 0.999, 0.01, `amsgrad: false`' },
    lr: { value: '`constant(value)`, `linear(from, to)`, `poly(initial = 0.01, exponent = 0.9)`, `cosine(initial = 0.01, final = 0)`', default: '`poly(0.01, 0.9)`' },
    epochs: { value: 'whole number ≥ 1', default: '1000 (with phases without `rest`: their sum)' },
    iterations: { value: 'whole number ≥ 1', default: '250' },
    clip: { value: 'number ≥ 0', default: '12' },
    validation: { value: "whole number ≥ 0: validation batches per epoch, scored with nnU-Net's pseudo-Dice (0: no validation)", default: '50' },
    checkpoint_every: { value: 'whole number ≥ 1: epochs between two resumable `latest` checkpoints (does not change results or stage keys)', default: '10' },
    phase: { value: '`heads` or `all`, then `{ epochs N or rest  lr LAW  optimizer OPT }`; repeatable, in order', default: 'one `all` phase' },
  },
  phase: {
    epochs: { value: 'whole number ≥ 1, or `rest` (what the other phases leave), required', default: '' },
    lr: { value: 'a learning-rate law, over the progress within the phase', default: "the schedule's `lr`" },
    optimizer: { value: "an optimiser, as the schedule's `optimizer`", default: "the schedule's `optimizer`" },
  },
  sampling: {
    kind: { value: '`inverse_sqrt`, `proportional` or `uniform`', default: '`inverse_sqrt`' },
    foreground: { value: 'fraction 0–1 of each batch centred on a present class', default: '0.33' },
  },
  augmentation: {
    rotation: transform('rotation'),
    scaling: transform('scaling'),
    elastic: transform('elastic'),
    noise: transform('noise'),
    blur: transform('blur'),
    brightness: transform('brightness'),
    contrast: transform('contrast'),
    low_resolution: transform('low_resolution'),
    gamma_inverted: transform('gamma_inverted'),
    gamma: transform('gamma'),
    mirror: transform('mirror'),
  },
  transform: {
    p: { value: 'probability per sample, 0–1, required', default: '' },
    range: { value: '`[low, high]`, required except for `mirror` (none) and `elastic` at p 0', default: '' },
    axes: { value: '`rotation` and `mirror` only: list of axis names `z`, `y`, `x`', default: 'all three' },
  },
  evaluation: {
    tta: { value: '`true` or `false`: test-time mirroring', default: '`false`' },
    step: { value: 'sliding-window step, a fraction of the patch in (0, 1]', default: '0.5' },
    metrics: { value: 'list of `dice`, `hd95`', default: '`[dice]`' },
  },
  experiment: {
    datasets: { value: 'list of datasets, required', default: '' },
    exclude: { value: 'list of datasets removed from `datasets` (as inherited); repeatable', default: '' },
    architecture: { value: 'architecture; required unless `pretrained` names an experiment', default: "the pre-trained one's" },
    patch: { value: "`[z, y, x]` override of the architecture's patch (topology re-derived)", default: "the architecture's" },
    spacing: { value: '`[z, y, x]` mm; required unless the architecture has one or `pretrained`', default: "the architecture's" },
    schedule: { value: 'schedule, required', default: '' },
    batch: { value: 'whole number ≥ 1', default: '2' },
    sampling: { value: 'a `sampling` declaration or `inverse_sqrt`, `proportional`, `uniform`', default: '`inverse_sqrt`' },
    foreground: { value: "fraction 0–1 (overrides the sampling's)", default: '0.33' },
    augmentation: { value: 'an augmentation profile or `none`', default: '`none`' },
    loss: { value: "`multitalent` (masked sigmoid BCE − Dice, summed over classes) or `dice_ce` (nnU-Net's Dice + CE, one dataset), optionally `(batch_dice: false)` for a Dice per case", default: '`multitalent` (batch Dice)' },
    precision: { value: '`fp32` or `mixed`', default: '`fp32`' },
    folds: {
      value:
        'list of folds 0–4 (`[0, 1]`), or `all` for the 5-fold cross-validation: one training per fold (see Folds below; `folds 5` is an error whose hint ' +
        'says `folds all`); or `none`: one training on every case, nothing held out (for a pre-training that is only fine-tuned from)',
      default: '`[0]`',
    },
    seed: { value: 'whole number ≥ 0', default: "the pre-trained experiment's, else 0" },
    pretrained: { value: 'an experiment (fine-tune) or a `"checkpoint file"`', default: 'none' },
    targets: { value: "classes (as in class sets) of the experiment's datasets that get heads", default: 'all classes' },
    allow_leakage: { value: '`true` to allow fine-tune targets that were pre-trained on', default: '`false`' },
    evaluation: { value: '`{ tta BOOL  step FRACTION  metrics [dice, hd95] }`', default: '`{ tta false  step 0.5  metrics [dice] }`' },
    report: { value: 'list of class sets the report summarises (plus one group per tag); see [class sets in a report](#classset)', default: '`[]`' },
  },
};

/** What each field's value is made of (fields absent here take numbers, strings or blocks). */
export const FIELD_VALUES: { [K in BlockKind]?: Partial<Record<(typeof BLOCK_FIELDS)[K][number], FieldValue>> } = {
  dataset: { modality: { words: ['CT'] }, synthetic: { words: SYNTHETIC_GENERATORS } },
  classset: { classes: CLASS_ITEMS, exclude: CLASS_ITEMS },
  architecture: {
    kind: { words: ARCHITECTURE_KINDS },
    deep_supervision: { bool: true },
    padding: { words: LAYER_OPTIONS.padding },
    residual_skip: { words: LAYER_OPTIONS.residual_skip },
    conv_bias: { bool: true },
    upsample_bias: { bool: true },
    head_bias: { bool: true },
    decoder_kernels: { words: LAYER_OPTIONS.decoder_kernels },
  },
  schedule: { optimizer: { calls: params(OPTIMIZERS) }, lr: { calls: LAWS }, phase: { words: ['heads', 'all'] } },
  phase: { epochs: { words: ['rest'] }, lr: { calls: LAWS }, optimizer: { calls: params(OPTIMIZERS) } },
  sampling: { kind: { words: SAMPLING_KINDS } },
  transform: { axes: { words: ['z', 'y', 'x'] } },
  evaluation: { tta: { bool: true }, metrics: { words: METRICS } },
  experiment: {
    datasets: { refs: ['dataset'] },
    exclude: { refs: ['dataset'] },
    architecture: { refs: ['architecture'] },
    schedule: { refs: ['schedule'] },
    sampling: { refs: ['sampling'], words: SAMPLING_KINDS },
    augmentation: { refs: ['augmentation'], words: ['none'] },
    loss: { words: LOSSES },
    precision: { words: PRECISIONS },
    folds: { words: ['all', 'none'] },
    pretrained: { refs: ['experiment'] },
    targets: CLASS_ITEMS,
    allow_leakage: { bool: true },
    report: { refs: ['classset'] },
  },
};

/**
 * The kind of block a nested block is, from its parent's kind and the field that opens it:
 * `phase` in a schedule, `evaluation` in an experiment, a transform in an augmentation profile.
 * Null for blocks whose entries are not fields (a dataset's `labels` and `classes`).
 */
export function nestedBlockKind(parent: BlockKind, key: string): BlockKind | null {
  if (parent === 'schedule' && key === 'phase') return 'phase';
  if (parent === 'experiment' && key === 'evaluation') return 'evaluation';
  if (parent === 'augmentation' && TRANSFORM_NAMES.includes(key)) return 'transform';
  return null;
}

/** The block kind a declaration kind opens (a family's body is an experiment's). */
export function declarationBlockKind(kind: string): BlockKind | null {
  if (kind === 'family') return 'experiment';
  return (Object.keys(BLOCK_FIELDS) as BlockKind[]).includes(kind as BlockKind) && !['phase', 'transform', 'evaluation'].includes(kind) ? (kind as BlockKind) : null;
}

/** The docs table row of a field: `| \`name\` | value | default |`. */
export function fieldRow(name: string, doc: FieldDoc): string {
  return `| \`${name}\` | ${doc.value} | ${doc.default} |`.replace(/ {2}\|$/, ' |');
}
