/**
 * JSON Schema (draft 2020-12 subset understood by ajv's default draft-07 mode) for RuntimeGraph.
 * Kept next to ./types.ts: any change to one must be made to the other; test/graph covers both.
 */
import { TRANSFORM_KINDS } from './transforms.js';

const num = { type: 'number' } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const str = { type: 'string', minLength: 1 } as const;
const strList = { type: 'array', items: str } as const;
const vec3 = { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 3, maxItems: 3 } as const;
const intVec3 = { type: 'array', items: posInt, minItems: 3, maxItems: 3 } as const;
const fraction = { type: 'number', minimum: 0, maximum: 1 } as const;
const labelList = { type: 'array', items: nonNegInt, minItems: 1 } as const;

function obj(properties: Record<string, unknown>, optional: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties),
    properties: { ...properties, ...optional },
  };
}

const range2 = { type: 'array', items: num, minItems: 2, maxItems: 2 } as const;
const axisList = { type: 'array', items: { type: 'integer', minimum: 0, maximum: 2 } } as const;
const augmentation = obj({
  name: str,
  transforms: {
    type: 'array',
    items: obj(
      { kind: { enum: [...TRANSFORM_KINDS] }, p: fraction },
      { range: range2, axes: axisList },
    ),
  },
});

const lrLaw = {
  oneOf: [
    obj({ kind: { const: 'constant' }, value: num }),
    obj({ kind: { const: 'linear' }, from: num, to: num }),
    obj({ kind: { const: 'poly' }, initial: num, exponent: num }),
    obj({ kind: { const: 'cosine' }, initial: num, final: num }),
  ],
};

const optimizer = {
  oneOf: [
    obj({ kind: { const: 'sgd' }, momentum: fraction, nesterov: { type: 'boolean' }, weightDecay: { type: 'number', minimum: 0 } }),
    obj({ kind: { const: 'adamw' }, beta1: fraction, beta2: fraction, weightDecay: { type: 'number', minimum: 0 } }, { amsgrad: { type: 'boolean' } }),
  ],
};

const head = obj({ dataset: str, name: str, labels: labelList });

const architecture = obj(
  {
    name: str,
    kind: { enum: ['unet', 'resenc_unet', 'swin_unetr'] },
    patch: intVec3,
    features: { type: 'array', items: posInt, minItems: 1 },
    strides: { type: 'array', items: intVec3, minItems: 1 },
    convsPerStage: posInt,
  },
  {
    kernels: { type: 'array', items: intVec3, minItems: 1 },
    blocksPerStage: { type: 'array', items: posInt, minItems: 1 },
    deepSupervision: { type: 'boolean' },
    swin: obj({ featureSize: posInt, depths: { type: 'array', items: posInt, minItems: 1 }, heads: { type: 'array', items: posInt, minItems: 1 }, window: intVec3 }),
    spacing: vec3,
    layers: obj({
      padding: { enum: ['end', 'symmetric'] },
      residualSkip: { enum: ['strided_conv', 'avgpool_conv'] },
      convBias: { type: 'boolean' },
      upsampleBias: { type: 'boolean' },
      headBias: { type: 'boolean' },
      decoderKernels: { enum: ['stage', 'deeper'] },
    }),
  },
);

const sampling = obj({
  kind: { enum: ['inverse_sqrt', 'uniform', 'proportional'] },
  foregroundFraction: fraction,
  shares: { type: 'object', additionalProperties: fraction },
});

const schedule = obj({
  name: str,
  optimizer,
  epochs: posInt,
  iterationsPerEpoch: posInt,
  clipNorm: { type: 'number', minimum: 0 },
  phases: {
    type: 'array',
    minItems: 1,
    items: obj({ trains: { enum: ['heads', 'all'] }, epochs: posInt, lr: lrLaw }, { optimizer }),
  },
}, { validationIterations: nonNegInt, checkpointEvery: posInt });

const split = obj({ folds: { type: 'integer', minimum: 2 }, seed: nonNegInt });

const stageBase = { id: str, deps: strList };

const trainParams = {
  experiment: str,
  datasets: { type: 'array', items: str, minItems: 1 },
  heads: { type: 'array', items: head, minItems: 1 },
  architecture,
  batch: posInt,
  sampling,
  schedule,
  loss: { enum: ['multitalent', 'dice_ce'] },
  seed: nonNegInt,
  fold: { oneOf: [{ type: 'null' }, nonNegInt] },
  split,
  data: str,
};

const outputLayout = {
  oneOf: [
    obj({ activation: { const: 'sigmoid' } }),
    obj({ activation: { const: 'softmax' }, labels: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 2 } }),
  ],
};

const trainOptional = {
  lossOptions: obj({ batchDice: { type: 'boolean' } }),
  output: outputLayout,
  augmentation,
  precision: { enum: ['fp32', 'mixed'] },
  checkpoint: { oneOf: [{ type: 'null' }, str] },
  targets: { oneOf: [{ type: 'null' }, { type: 'array', items: str, minItems: 1 }] },
};

const stage = {
  oneOf: [
    obj({ ...stageBase, kind: { const: 'prepare' }, datasets: { type: 'array', items: str, minItems: 1, maxItems: 1 } }),
    obj({
      ...stageBase,
      kind: { const: 'preprocess' },
      datasets: strList,
      spacing: vec3,
      normalization: obj({ kind: { const: 'ct' }, scope: { enum: ['collection', 'dataset'] }, statsFrom: { oneOf: [{ type: 'null' }, str] } }),
    }),
    obj({ ...stageBase, kind: { const: 'train' }, ...trainParams }, trainOptional),
    obj({ ...stageBase, kind: { const: 'finetune' }, ...trainParams, from: str }, trainOptional),
    obj({
      ...stageBase,
      kind: { const: 'evaluate' },
      experiment: str,
      models: { type: 'array', minItems: 1, items: obj({ fold: nonNegInt, stage: str }) },
      data: str,
      datasets: { type: 'array', items: str, minItems: 1 },
      split,
      inference: obj({ stepFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, gaussian: { type: 'boolean' }, mirror: { type: 'boolean' } }),
    }, { metrics: { type: 'array', items: { enum: ['dice', 'hd95'] }, minItems: 1 } }),
    obj(
      { ...stageBase, kind: { const: 'report' }, experiment: str, evaluations: strList },
      { classSets: { type: 'array', items: obj({ name: str, classes: strList }) } },
    ),
  ],
};

const dataset = obj({
  name: str,
  root: str,
  modality: { const: 'CT' },
  classes: {
    type: 'array',
    minItems: 1,
    items: obj({ name: str, labels: labelList, tags: strList }),
  },
  synthetic: { oneOf: [{ type: 'null' }, obj({ generator: str, seed: nonNegInt })] },
}, {
  cases: { oneOf: [{ type: 'null' }, posInt] },
  labels: { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 255 } },
  splitFile: { oneOf: [{ type: 'null' }, str] },
});

export const graphSchema = obj({
  schemaVersion: { const: 2 },
  source: obj({ file: str, experiments: { type: 'array', items: str, minItems: 1 } }),
  datasets: { type: 'array', items: dataset },
  stages: { type: 'array', items: stage, minItems: 1 },
});
