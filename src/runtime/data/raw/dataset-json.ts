/** The nnU-Net v2 `dataset.json` of a raw dataset: its schema and what this project reads from it. */
import { Ajv, type ErrorObject } from 'ajv';

export interface DatasetJson {
  channel_names: Record<string, string>;
  /** Label name -> value, or -> list of values for region classes. `background` must be 0. */
  labels: Record<string, number | number[]>;
  numTraining: number;
  file_ending: string;
  regions_class_order?: number[];
  name?: string;
  description?: string;
  [key: string]: unknown;
}

export const datasetJsonSchema = {
  type: 'object',
  required: ['channel_names', 'labels', 'numTraining', 'file_ending'],
  properties: {
    channel_names: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[0-9]+$' },
      additionalProperties: { type: 'string', minLength: 1 },
    },
    labels: {
      type: 'object',
      minProperties: 2,
      required: ['background'],
      additionalProperties: {
        anyOf: [
          { type: 'integer', minimum: 0, maximum: 255 },
          { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0, maximum: 255 } },
        ],
      },
    },
    numTraining: { type: 'integer', minimum: 1 },
    file_ending: { type: 'string', pattern: '^\\.' },
    regions_class_order: { type: 'array', items: { type: 'integer' } },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(datasetJsonSchema);

function describe(e: ErrorObject): string {
  const where = e.instancePath ? `dataset.json${e.instancePath.replace(/\//g, '.')}` : 'dataset.json';
  if (e.keyword === 'required') return `${where} lacks the required key '${String(e.params.missingProperty)}'`;
  if (e.keyword === 'anyOf') return `${where} must be an integer 0..255 or a list of them`;
  if (e.keyword === 'propertyNames') return `${where} keys must be channel indices "0", "1", ...`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Problems with the parsed JSON (empty when it is valid). */
export function datasetJsonProblems(value: unknown): string[] {
  if (validate(value)) {
    const json = value as unknown as DatasetJson;
    const problems: string[] = [];
    if (json.labels.background !== 0) problems.push('dataset.json labels.background must be 0');
    const values = declaredLabelValues(json);
    const plain = Object.entries(json.labels).filter(([, v]) => typeof v === 'number');
    const seen = new Map<number, string>();
    for (const [name, v] of plain) {
      const prev = seen.get(v as number);
      if (prev !== undefined) problems.push(`dataset.json labels '${prev}' and '${name}' share the value ${String(v)}`);
      seen.set(v as number, name);
    }
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== i) {
        problems.push(`dataset.json label values must be consecutive integers from 0 (nnU-Net requirement); found ${values.join(', ')}`);
        break;
      }
    }
    const regions = Object.entries(json.labels).filter(([, v]) => Array.isArray(v));
    if (regions.length > 0) {
      const classes = Object.keys(json.labels).filter((k) => k !== 'background' && k !== 'ignore').length;
      if (!json.regions_class_order) {
        problems.push(
          `dataset.json declares region classes (${regions.map(([k]) => `'${k}'`).join(', ')}) but lacks 'regions_class_order' (nnU-Net requires it with regions: one label value per non-background class, in the order predictions are written)`,
        );
      } else if (json.regions_class_order.length !== classes) {
        problems.push(`dataset.json regions_class_order has ${json.regions_class_order.length} entries but labels declare ${classes} non-background classes`);
      }
    }
    const channels = Object.keys(json.channel_names);
    if (channels.length !== 1 || channels[0] !== '0') {
      problems.push(`dataset.json channel_names must have exactly one channel "0" (multitalent trains on single-channel CT); found ${JSON.stringify(json.channel_names)}`);
    } else if (json.channel_names['0'].toLowerCase() !== 'ct') {
      problems.push(`dataset.json channel_names["0"] is "${json.channel_names['0']}"; multitalent needs CT images (channel name "CT", which selects CT normalisation)`);
    }
    return problems;
  }
  return (validate.errors ?? []).map(describe);
}

/** Every label value the dataset declares (plain values and region members), sorted, unique. */
export function declaredLabelValues(json: DatasetJson): number[] {
  const set = new Set<number>();
  for (const v of Object.values(json.labels)) {
    if (Array.isArray(v)) v.forEach((x) => set.add(x));
    else set.add(v);
  }
  return [...set].sort((a, b) => a - b);
}
