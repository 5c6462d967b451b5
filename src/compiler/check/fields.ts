/** Which fields a block may hold: unknown, repeated, value-less and misplaced fields. */
import type { Block, Entry, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import type { Span } from '../source.js';
import { closest } from '../suggest.js';
import { TRANSFORM_KINDS } from '../../graph/transforms.js';
import { withArticle } from '../words.js';

/** Fields of each block kind; the single source of truth for the checker and the docs test. */
export const BLOCK_FIELDS = {
  dataset: ['root', 'modality', 'cases', 'synthetic', 'seed', 'labels', 'classes', 'split'],
  classset: ['classes', 'exclude'],
  architecture: [
    'kind', 'patch', 'spacing', 'stages', 'features', 'blocks', 'kernels', 'strides', 'deep_supervision', 'feature_size',
    'padding', 'residual_skip', 'conv_bias', 'upsample_bias', 'head_bias', 'decoder_kernels',
  ],
  schedule: ['optimizer', 'lr', 'epochs', 'iterations', 'clip', 'validation', 'checkpoint_every', 'phase'],
  phase: ['epochs', 'lr', 'optimizer'],
  sampling: ['kind', 'foreground'],
  /** The transforms (graph/transforms.ts, the one list). */
  augmentation: TRANSFORM_KINDS,
  transform: ['p', 'range', 'axes'],
  evaluation: ['tta', 'step', 'metrics'],
  experiment: [
    'datasets', 'exclude', 'architecture', 'patch', 'spacing', 'schedule', 'batch', 'sampling', 'foreground', 'augmentation',
    'folds', 'seed', 'precision', 'loss', 'pretrained', 'evaluation', 'targets', 'allow_leakage', 'report',
  ],
} as const;

export type BlockKind = keyof typeof BLOCK_FIELDS;

/** Blocks that declarations open (their fields are keywords); the others are nested blocks whose fields are plain names. */
export const DECLARATION_BLOCKS: readonly BlockKind[] = ['dataset', 'classset', 'architecture', 'schedule', 'sampling', 'experiment'];

export class Fields {
  private readonly byName = new Map<string, Entry[]>();

  constructor(
    private readonly sink: DiagnosticSink,
    /** e.g. "dataset 'liver'". */
    readonly owner: string,
    readonly ownerSpan: Span,
    kind: BlockKind,
    block: Block | null,
    repeatable: readonly string[] = [],
  ) {
    const allowed: readonly string[] = BLOCK_FIELDS[kind];
    for (const e of block?.entries ?? []) {
      const key = e.key.text;
      if (!allowed.includes(key)) {
        const suggestion = closest(key, allowed);
        const elsewhere = (Object.keys(BLOCK_FIELDS) as BlockKind[]).filter((k) => k !== kind && k !== 'transform' && (BLOCK_FIELDS[k] as readonly string[]).includes(key));
        const hint =
          suggestion !== null
            ? `did you mean '${suggestion}'?`
            : elsewhere.length > 0
              ? `'${key}' belongs in ${elsewhere.map((k) => withArticle(k)).join(' or ')} block, not ${withArticle(kind)}`
              : `${withArticle(kind)} block may hold: ${allowed.join(', ')}`;
        sink.error('MT0203', e.key.span, `unknown field '${key}' in ${owner}`, hint);
        continue;
      }
      const list = this.byName.get(key) ?? [];
      if (list.length > 0 && !repeatable.includes(key)) {
        const first = list[0].key.span.start;
        sink.error('MT0205', e.key.span, `'${key}' is given twice in ${owner} (first at ${first.line}:${first.column})`, 'remove one of them');
        continue;
      }
      list.push(e);
      this.byName.set(key, list);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): Entry | undefined {
    return this.byName.get(name)?.[0];
  }

  all(name: string): Entry[] {
    return this.byName.get(name) ?? [];
  }

  /**
   * The value of a field that takes a value (and no block). Reports a missing value, or a block
   * given where none belongs. Undefined when the field is absent or unusable.
   */
  value(name: string, example: string): Value | undefined {
    const e = this.entry(name);
    if (e === undefined) return undefined;
    return valueOf(this.sink, e, example);
  }

  /** Like value(), but reports MT0304 when the field is absent. */
  required(name: string, example: string): Value | undefined {
    if (!this.has(name)) {
      this.sink.error('MT0304', this.ownerSpan, `${this.owner} is missing '${name}'`, `add: ${example}`);
      return undefined;
    }
    return this.value(name, example);
  }
}

export function valueOf(sink: DiagnosticSink, e: Entry, example: string): Value | undefined {
  if (e.block !== null) {
    sink.error('MT0311', e.block.span, `'${e.key.text}' takes a value, not a block`, `write: ${example}`);
  }
  if (e.value === null) {
    if (e.block === null) sink.error('MT0106', e.key.span, `'${e.key.text}' needs a value`, `write: ${example}`);
    return undefined;
  }
  return e.value;
}
