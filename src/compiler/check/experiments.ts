/** `experiment NAME { datasets [...]  architecture A  schedule S  batch N  sampling ...  spacing [...]  seed N  pretrained E }`. */
import type { SamplingKind, Vec3 } from '../../graph/types.js';
import type { Declaration, NameValue } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import type { Span } from '../source.js';
import { Fields } from './fields.js';
import type { DeclKind, ExperimentModel } from './model.js';
import { ValueReader } from './values.js';

export const EXPERIMENT_DEFAULTS = {
  batch: 2,
  sampling: 'inverse_sqrt' as SamplingKind,
  /** nnU-Net's foreground oversampling. */
  foregroundFraction: 0.33,
  seed: 0,
};

export const SAMPLING_KINDS: readonly SamplingKind[] = ['inverse_sqrt', 'uniform', 'proportional'];

/** Resolves a reference to a declaration of the given kind, reporting unknown / wrong-kind names. */
export type Resolve = (ref: NameValue, kind: DeclKind, what: string) => string | undefined;

export function checkExperiment(sink: DiagnosticSink, decl: Declaration, name: string, file: string, resolve: Resolve): ExperimentModel | undefined {
  const owner = `experiment '${name}'`;
  const ownerSpan = decl.name?.span ?? decl.kind.span;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, ownerSpan, 'experiment', decl.body);
  let ok = true;
  const fail = (): undefined => {
    ok = false;
    return undefined;
  };
  const ref = (field: string, kind: DeclKind, example: string, required: boolean): { name: string; span: Span } | null | undefined => {
    const v = required ? f.required(field, example) : f.value(field, example);
    if (v === undefined) return f.has(field) || required ? fail() : null;
    const n = r.name(v, `'${field}'`, `the name of ${kind === 'architecture' || kind === 'experiment' ? 'an' : 'a'} ${kind}`);
    if (n === undefined) return fail();
    const got = resolve(n, kind, `'${field}'`);
    return got === undefined ? fail() : { name: got, span: n.span };
  };

  const pretrained = ref('pretrained', 'experiment', 'pretrained my_pretraining', false);
  const isFinetune = pretrained !== null && pretrained !== undefined;
  if (pretrained && pretrained.name === name) {
    sink.error('MT0403', pretrained.span, `${owner} cannot start from itself`, 'name the pre-training experiment it fine-tunes');
    ok = false;
  }

  const dsV = f.required('datasets', 'datasets [liver, spleen]');
  const datasets: string[] = [];
  if (dsV) {
    const items = r.list(dsV, "'datasets'", 'dataset names');
    if (items === undefined) ok = false;
    else if (items.length === 0) {
      sink.error('MT0303', dsV.span, `${owner} lists no datasets`, 'write e.g. datasets [liver, spleen]');
      ok = false;
    } else {
      for (const it of items) {
        const n = r.name(it, "'datasets'", 'a dataset name');
        const got = n ? resolve(n, 'dataset', "'datasets'") : undefined;
        if (got === undefined) ok = false;
        else if (datasets.includes(got)) {
          sink.error('MT0206', it.span, `dataset '${got}' is listed twice in ${owner}`);
          ok = false;
        } else datasets.push(got);
      }
    }
  }

  const arch = ref('architecture', 'architecture', 'architecture unet_small', !isFinetune);
  const schedule = ref('schedule', 'schedule', 'schedule nnunet_default', true);

  const batchV = f.value('batch', 'batch 2');
  const batch = batchV ? r.integer(batchV, "'batch'", 1, 'the number of patches per training step') : EXPERIMENT_DEFAULTS.batch;
  if (batch === undefined) ok = false;

  const samplingV = f.value('sampling', 'sampling inverse_sqrt');
  const sampling = samplingV ? r.option(samplingV, 'sampling', SAMPLING_KINDS) : EXPERIMENT_DEFAULTS.sampling;
  if (sampling === undefined) ok = false;

  const fgV = f.value('foreground', 'foreground 0.33');
  const foreground = fgV ? r.fraction(fgV, "'foreground'", 'the fraction of each batch forced to contain foreground (nnU-Net: 0.33)') : EXPERIMENT_DEFAULTS.foregroundFraction;
  if (foreground === undefined) ok = false;

  const spV = isFinetune ? f.value('spacing', 'spacing [1.5, 1, 1]') : f.required('spacing', 'spacing [1.5, 1, 1]');
  let spacing: Vec3 | null = null;
  if (spV) {
    const got = r.vec3(spV, "'spacing'", { integer: false, min: 0, exclusiveMin: true });
    if (got === undefined) ok = false;
    else spacing = got;
  } else if (!isFinetune) ok = false;

  const seedV = f.value('seed', 'seed 42');
  const seed = seedV ? r.integer(seedV, "'seed'", 0) : null;
  if (seedV && seed === undefined) ok = false;

  if (!ok || batch === undefined || sampling === undefined || foreground === undefined || arch === undefined || schedule === undefined || pretrained === undefined) return undefined;
  return {
    name,
    file,
    span: ownerSpan,
    datasets,
    architecture: arch?.name ?? null,
    architectureSpan: arch?.span ?? null,
    batch,
    sampling: { kind: sampling, foregroundFraction: foreground },
    schedule: schedule?.name ?? null,
    spacing,
    spacingSpan: spV?.span ?? null,
    seed: seed ?? null,
    pretrained: pretrained?.name ?? null,
    pretrainedSpan: pretrained?.span ?? null,
  };
}
