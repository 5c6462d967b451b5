/**
 * JSON Schema (draft 2020-12 subset understood by ajv's default draft-07 mode) for RuntimeGraph.
 * Kept next to ./types.ts: any change to one must be made to the other; test/graph covers both.
 */
const num = { type: 'number' } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const str = { type: 'string', minLength: 1 } as const;
const strList = { type: 'array', items: str } as const;
const vec3 = { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 3, maxItems: 3 } as const;
const intVec3 = { type: 'array', items: posInt, minItems: 3, maxItems: 3 } as const;
const fraction = { type: 'number', minimum: 0, maximum: 1 } as const;
const labelList = { type: 'array', items: nonNegInt, minItems: 1 } as const;

function obj(properties: Record<string, unknown>, extraRequired: string[] = []): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: [...Object.keys(properties), ...extraRequired],
    properties,
  };
}

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
    obj({ kind: { const: 'adamw' }, beta1: fraction, beta2: fraction, weightDecay: { type: 'number', minimum: 0 } }),
  ],
};

const head = obj({ dataset: str, name: str, labels: labelList });

const architecture = obj({
  name: str,
  kind: { const: 'unet' },
  patch: intVec3,
  features: { type: 'array', items: posInt, minItems: 1 },
  strides: { type: 'array', items: intVec3, minItems: 1 },
  convsPerStage: posInt,
});

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
    items: obj({ trains: { enum: ['heads', 'all'] }, epochs: posInt, lr: lrLaw }),
  },
});

const stageBase = { id: str, deps: strList };

const trainParams = {
  experiment: str,
  datasets: { type: 'array', items: str, minItems: 1 },
  heads: { type: 'array', items: head, minItems: 1 },
  architecture,
  batch: posInt,
  sampling,
  schedule,
  loss: { const: 'multitalent' },
  seed: nonNegInt,
};

const stage = {
  oneOf: [
    obj({ ...stageBase, kind: { const: 'prepare' }, datasets: strList }),
    obj({
      ...stageBase,
      kind: { const: 'preprocess' },
      datasets: strList,
      spacing: vec3,
      normalization: obj({ kind: { const: 'ct' }, scope: { enum: ['collection', 'dataset'] } }),
      split: obj({ holdoutFraction: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, seed: nonNegInt }),
    }),
    obj({ ...stageBase, kind: { const: 'train' }, ...trainParams }),
    obj({ ...stageBase, kind: { const: 'finetune' }, ...trainParams, from: str }),
    obj({
      ...stageBase,
      kind: { const: 'evaluate' },
      experiment: str,
      model: str,
      datasets: { type: 'array', items: str, minItems: 1 },
      inference: obj({ stepFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, gaussian: { type: 'boolean' }, mirror: { type: 'boolean' } }),
    }),
    obj({ ...stageBase, kind: { const: 'report' }, evaluations: strList }),
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
});

export const graphSchema = obj({
  schemaVersion: { const: 1 },
  source: obj({ file: str, experiment: str }),
  seed: nonNegInt,
  datasets: { type: 'array', items: dataset },
  stages: { type: 'array', items: stage, minItems: 1 },
});
