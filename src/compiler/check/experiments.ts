/**
 * `experiment NAME [extends OTHER] { datasets [...]  exclude [...]  architecture A  patch [...]  spacing [...]
 *   schedule S  batch N  sampling ...  foreground F  augmentation P  folds [...]  seed N  precision ...
 *   loss ...  pretrained E|"file"  evaluation { ... }  targets ...  allow_leakage B  report [...] }`.
 * Inheritance (`extends`) is resolved before this runs: the block holds the merged fields.
 */
import type { AugmentationSpec, LossKind, LossOptions, Precision, SamplingKind, Vec3 } from '../../graph/types.js';
import type { Block, Declaration, NameValue, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import type { Span } from '../source.js';
import { NO_AUGMENTATION } from './augmentation.js';
import { readClassItems, type ClassContext } from './classsets.js';
import { Fields } from './fields.js';
import type { ClassSetModel, DeclKind, EvaluationModel, ExperimentModel, SamplingModel } from './model.js';
import { DEFAULT_FOREGROUND, SAMPLING_KINDS } from './sampling.js';
import { bindCall, ValueReader, type ParamSpec } from './values.js';
import { count, withArticle } from '../words.js';

export const EXPERIMENT_DEFAULTS = {
  batch: 2,
  sampling: 'inverse_sqrt' as SamplingKind,
  /** nnU-Net's foreground oversampling. */
  foregroundFraction: DEFAULT_FOREGROUND,
  seed: 0,
  folds: [0],
  precision: 'fp32' as Precision,
  loss: 'multitalent' as LossKind,
  lossOptions: { batchDice: true } as LossOptions,
  evaluation: { tta: false, step: 0.5, metrics: ['dice'] } as EvaluationModel,
};

export { SAMPLING_KINDS };
export const FOLDS = 5;
export const PRECISIONS: readonly Precision[] = ['fp32', 'mixed'];
export const LOSSES: readonly LossKind[] = ['multitalent', 'dice_ce'];
export const METRICS = ['dice', 'hd95'] as const;

/** The loss's options, as named arguments: `loss multitalent(batch_dice: false)`. */
const LOSS_PARAMS: ParamSpec[] = [{ name: 'batch_dice', default: EXPERIMENT_DEFAULTS.lossOptions.batchDice, read: (r, v, what) => r.bool(v, what) }];

/** `loss KIND` or `loss KIND(batch_dice: BOOL)`. */
export function readLoss(r: ValueReader, v: Value): { kind: LossKind; options: LossOptions } | undefined {
  const kind = r.option(v.kind === 'call' ? { kind: 'name', name: v.callee.text, span: v.callee.span } : v, 'loss', LOSSES);
  if (kind === undefined || (v.kind !== 'call' && v.kind !== 'name')) return undefined;
  const a = bindCall(r, v, LOSS_PARAMS, { positional: false });
  return a === undefined ? undefined : { kind, options: { batchDice: a.batch_dice as boolean } };
}

/** Resolves a reference to a declaration of the given kind, reporting unknown / wrong-kind names. */
export type Resolve = (ref: NameValue, kind: DeclKind, what: string) => string | undefined;

export interface ExperimentContext {
  resolve: Resolve;
  classes: ClassContext;
  samplings: ReadonlyMap<string, SamplingModel>;
  augmentations: ReadonlyMap<string, AugmentationSpec>;
  /** Whether a name is declared as the given kind (without reporting). */
  isDeclared: (name: string, kind: DeclKind) => boolean;
  /** Whether the stdlib declares a name as the given kind (imported or not). */
  inStdlib: (name: string, kind: DeclKind) => boolean;
}

export function checkExperiment(sink: DiagnosticSink, decl: Declaration, body: Block | null, name: string, file: string, ctx: ExperimentContext, family: string | null = null): ExperimentModel | undefined {
  const owner = `experiment '${name}'`;
  const ownerSpan = decl.name?.span ?? decl.kind.span;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, ownerSpan, 'experiment', body, ['exclude']);
  let ok = true;
  const fail = (): undefined => {
    ok = false;
    return undefined;
  };
  const ref = (field: string, kind: DeclKind, example: string, required: boolean): { name: string; span: Span } | null | undefined => {
    const v = required ? f.required(field, example) : f.value(field, example);
    if (v === undefined) return f.has(field) || required ? fail() : null;
    const n = r.name(v, `'${field}'`, `the name of ${withArticle(kind)}`);
    if (n === undefined) return fail();
    const got = ctx.resolve(n, kind, `'${field}'`);
    return got === undefined ? fail() : { name: got, span: n.span };
  };

  // pretrained: an experiment, or a checkpoint file "path".
  const ptV = f.value('pretrained', 'pretrained my_pretraining');
  let pretrained: { name: string; span: Span } | null = null;
  let checkpoint: string | null = null;
  if (ptV?.kind === 'string') {
    if (ptV.value.trim() === '') {
      sink.error('MT0303', ptV.span, "'pretrained' checkpoint path is empty", 'write the checkpoint file, e.g. pretrained "checkpoints/multitalent_unet.json"');
      ok = false;
    } else checkpoint = ptV.value;
  } else if (ptV) {
    const n = r.name(ptV, "'pretrained'", 'an experiment name or a "checkpoint/file"');
    const got = n ? ctx.resolve(n, 'experiment', "'pretrained'") : undefined;
    if (got === undefined) ok = false;
    else {
      pretrained = { name: got, span: n!.span };
      if (got === name) {
        sink.error('MT0403', n!.span, `${owner} cannot start from itself`, 'name the pre-training experiment it fine-tunes');
        ok = false;
      }
    }
  } else if (f.has('pretrained')) ok = false;
  const isFinetune = pretrained !== null;

  const dsV = f.required('datasets', 'datasets [liver, spleen]');
  let datasets: string[] = [];
  if (dsV) {
    const items = r.list(dsV, "'datasets'", 'dataset names');
    if (items === undefined) ok = false;
    else {
      for (const it of items) {
        const n = r.name(it, "'datasets'", 'a dataset name');
        const got = n ? ctx.resolve(n, 'dataset', "'datasets'") : undefined;
        if (got === undefined) ok = false;
        else if (datasets.includes(got)) {
          sink.error('MT0206', it.span, `dataset '${got}' is listed twice in ${owner}`);
          ok = false;
        } else datasets.push(got);
      }
    }
  }
  for (const e of f.all('exclude')) {
    if (e.value === null) continue;
    const items = r.list(e.value, "'exclude'", 'dataset names');
    for (const it of items ?? []) {
      const n = r.name(it, "'exclude'", 'a dataset name');
      const got = n ? ctx.resolve(n, 'dataset', "'exclude'") : undefined;
      if (got === undefined) ok = false;
      else if (!datasets.includes(got)) {
        if (ok) sink.error('MT0313', it.span, `${owner} excludes '${got}', which is not among its datasets`, datasets.length > 0 ? `its datasets: ${datasets.join(', ')}` : undefined);
        ok = false;
      } else datasets = datasets.filter((d) => d !== got);
    }
  }
  if (dsV && datasets.length === 0 && ok) {
    sink.error('MT0303', dsV.span, `${owner} has no datasets${f.has('exclude') ? ' left after its exclusions' : ''}`, 'write e.g. datasets [liver, spleen]');
    ok = false;
  }

  const arch = ref('architecture', 'architecture', 'architecture multitalent_unet', false);
  if (arch === null && !isFinetune && !f.has('architecture')) {
    sink.error('MT0304', ownerSpan, `${owner} is missing 'architecture'`, 'add: architecture multitalent_unet');
    ok = false;
  }
  const patchV = f.value('patch', 'patch [96, 192, 192]');
  const patch = patchV ? r.vec3(patchV, "'patch'", { integer: true, min: 0, exclusiveMin: true }) : null;
  if (patch === undefined) ok = false;

  const schedule = ref('schedule', 'schedule', 'schedule nnunet_default', true);

  const batchV = f.value('batch', 'batch 2');
  const batch = batchV ? r.integer(batchV, "'batch'", 1, 'the number of patches per training step') : EXPERIMENT_DEFAULTS.batch;
  if (batch === undefined) ok = false;

  let sampling: { kind: SamplingKind; foregroundFraction: number } | undefined = { kind: EXPERIMENT_DEFAULTS.sampling, foregroundFraction: EXPERIMENT_DEFAULTS.foregroundFraction };
  const samplingV = f.value('sampling', 'sampling inverse_sqrt');
  const namesSampling = samplingV?.kind === 'name' && !(SAMPLING_KINDS as readonly string[]).includes(samplingV.name) && ctx.inStdlib(samplingV.name, 'sampling');
  if (samplingV?.kind === 'name' && (ctx.isDeclared(samplingV.name, 'sampling') || namesSampling)) {
    const got = ctx.resolve(samplingV, 'sampling', "'sampling'");
    const m = got === undefined ? undefined : ctx.samplings.get(got);
    sampling = m ? { kind: m.kind, foregroundFraction: m.foregroundFraction } : undefined;
  } else if (samplingV) {
    const kind = r.option(samplingV, 'sampling', SAMPLING_KINDS);
    sampling = kind === undefined ? undefined : { kind, foregroundFraction: EXPERIMENT_DEFAULTS.foregroundFraction };
  }
  if (sampling === undefined) ok = false;

  const fgV = f.value('foreground', 'foreground 0.33');
  const foreground = fgV ? r.fraction(fgV, "'foreground'", 'the fraction of each batch forced to contain foreground (nnU-Net: 0.33)') : sampling?.foregroundFraction;
  if (foreground === undefined) ok = false;

  let augmentation: AugmentationSpec | undefined = NO_AUGMENTATION;
  const augV = f.value('augmentation', 'augmentation nnunet_default');
  if (augV?.kind === 'name' && augV.name === 'none' && !ctx.isDeclared('none', 'augmentation')) augmentation = NO_AUGMENTATION;
  else if (augV) {
    const n = r.name(augV, "'augmentation'", 'an augmentation profile or none');
    const got = n ? ctx.resolve(n, 'augmentation', "'augmentation'") : undefined;
    augmentation = got === undefined ? undefined : ctx.augmentations.get(got);
  }
  if (augmentation === undefined) ok = false;

  const spV = f.value('spacing', 'spacing [1.5, 1, 1]');
  let spacing: Vec3 | null = null;
  if (spV) {
    const got = r.vec3(spV, "'spacing'", { integer: false, min: 0, exclusiveMin: true });
    if (got === undefined) ok = false;
    else spacing = got;
  }

  const seedV = f.value('seed', 'seed 42');
  const seed = seedV ? r.integer(seedV, "'seed'", 0) : null;
  if (seedV && seed === undefined) ok = false;

  let folds: Array<number | null> | undefined = EXPERIMENT_DEFAULTS.folds;
  const foldsV = f.value('folds', 'folds [0, 1, 2, 3, 4]');
  if (foldsV?.kind === 'name' && foldsV.name === 'all') folds = Array.from({ length: FOLDS }, (_, i) => i);
  else if (foldsV?.kind === 'name' && foldsV.name === 'none') folds = [null]; // every case, nothing held out
  else if (foldsV?.kind === 'number') {
    // `folds 5` most often means "5-fold cross-validation"; `folds 2` may mean fold 2 alone.
    const n = foldsV.value;
    const single = Number.isInteger(n) && n >= 0 && n < FOLDS;
    sink.error('MT0301', foldsV.span, `'folds' expects a list of fold numbers 0 to ${FOLDS - 1}, or all, found number ${foldsV.text}`,
      single ? `write folds [${foldsV.text}] for fold ${foldsV.text} alone, or folds all for the ${FOLDS}-fold cross-validation` : `write folds all for the ${FOLDS}-fold cross-validation (folds 0 to ${FOLDS - 1}), or a list such as folds [0]`);
    folds = undefined;
  } else if (foldsV) {
    const items = r.list(foldsV, "'folds'", `fold numbers 0 to ${FOLDS - 1} (or all, or none)`);
    const got = items?.map((it) => {
      const n = r.integer(it, "'folds'", 0);
      if (n !== undefined && n >= FOLDS) {
        sink.error('MT0303', it.span, `fold ${n} does not exist: cross-validation has ${FOLDS} folds, 0 to ${FOLDS - 1}`, `folds are numbered from 0; write folds all for all ${FOLDS}`);
        return undefined;
      }
      return n;
    });
    if (got === undefined || got.some((n) => n === undefined)) folds = undefined;
    else if (got.length === 0) {
      sink.error('MT0303', foldsV.span, "'folds' lists no fold", 'write e.g. folds [0] or folds all');
      folds = undefined;
    } else {
      const seen = new Set<number>();
      for (let i = 0; i < got.length; i++) {
        if (seen.has(got[i]!)) {
          sink.error('MT0206', (foldsV as { items: Array<{ span: Span }> }).items[i].span, `fold ${got[i]} is listed twice in ${owner}`);
          folds = undefined;
        }
        seen.add(got[i]!);
      }
      if (folds !== undefined) folds = got as number[];
    }
  }
  if (folds === undefined) ok = false;

  const precV = f.value('precision', 'precision mixed');
  const precision = precV ? r.option(precV, 'precision', PRECISIONS, { fp16: "write 'mixed' (fp16 where it is safe, fp32 elsewhere)", half: "write 'mixed'" }) : EXPERIMENT_DEFAULTS.precision;
  if (precision === undefined) ok = false;

  const lossV = f.value('loss', 'loss multitalent');
  const lossRead = lossV ? readLoss(r, lossV) : { kind: EXPERIMENT_DEFAULTS.loss, options: { ...EXPERIMENT_DEFAULTS.lossOptions } };
  const loss = lossRead?.kind;
  if (loss === undefined) ok = false;
  if (loss === 'dice_ce' && datasets.length > 1) {
    sink.error('MT0314', lossV!.span, `loss dice_ce (nnU-Net's softmax Dice + cross-entropy) trains one dataset, but ${owner} has ${datasets.length}`, 'use loss multitalent for several datasets, or train one dataset per experiment (a family does that)');
    ok = false;
  }

  let evaluation: EvaluationModel | undefined = { ...EXPERIMENT_DEFAULTS.evaluation, metrics: [...EXPERIMENT_DEFAULTS.evaluation.metrics] };
  const evE = f.entry('evaluation');
  if (evE !== undefined) {
    if (evE.block === null || evE.value !== null) {
      sink.error('MT0301', evE.value?.span ?? evE.key.span, "'evaluation' expects a block { tta ...  step ...  metrics [...] }", 'write: evaluation { tta true  step 0.5  metrics [dice, hd95] }');
      evaluation = undefined;
    } else {
      const ef = new Fields(sink, `the evaluation of ${owner}`, evE.key.span, 'evaluation', evE.block);
      const ttaV = ef.value('tta', 'tta true');
      const tta = ttaV ? r.bool(ttaV, "'tta'") : EXPERIMENT_DEFAULTS.evaluation.tta;
      const stepV = ef.value('step', 'step 0.5');
      const step = stepV ? r.ranged(stepV, "'step'", { min: 0, exclusiveMin: true, max: 1, why: 'the sliding-window step as a fraction of the patch (nnU-Net: 0.5)' }) : EXPERIMENT_DEFAULTS.evaluation.step;
      const mV = ef.value('metrics', 'metrics [dice, hd95]');
      let metrics: Array<'dice' | 'hd95'> | undefined = [...EXPERIMENT_DEFAULTS.evaluation.metrics];
      if (mV) {
        const items = r.list(mV, "'metrics'", 'metric names (dice, hd95)');
        const got = items?.map((it) => r.option(it, 'metric', METRICS));
        metrics = got === undefined || got.some((m) => m === undefined) ? undefined : [...new Set(got as Array<'dice' | 'hd95'>)];
        if (metrics !== undefined && metrics.length === 0) {
          sink.error('MT0303', mV.span, "'metrics' lists no metric", 'write metrics [dice]');
          metrics = undefined;
        }
      }
      evaluation = tta === undefined || step === undefined || metrics === undefined ? undefined : { tta, step, metrics };
    }
  }
  if (evaluation === undefined) ok = false;

  const tV = f.value('targets', 'targets [amos.liver, amos.spleen]');
  let targets: string[] | null | undefined = null;
  if (tV) {
    const selected = readClassItems(sink, tV, "'targets'", ctx.classes);
    targets = selected?.classes;
    if (selected !== undefined) {
      // One error per offending item, with the caret on that item.
      const byItem = new Map<Span, string[]>();
      for (const t of selected.classes) {
        if (datasets.includes(t.slice(0, t.indexOf('.')))) continue;
        const at = selected.from.get(t)!;
        byItem.set(at, [...(byItem.get(at) ?? []), t]);
      }
      for (const [at, outside] of byItem) {
        const foreign = [...new Set(outside.map((t) => t.slice(0, t.indexOf('.'))))];
        sink.error('MT0408', at, `targets of ${owner} include ${outside.slice(0, 3).map((c) => `'${c}'`).join(', ')}${outside.length > 3 ? ` and ${outside.length - 3} more` : ''}, but ${foreign.map((d) => `'${d}'`).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not among its datasets`, `targets select classes of the experiment's own datasets (${datasets.join(', ')})`);
      }
      if (byItem.size > 0) targets = undefined;
    }
  }
  if (targets === undefined) ok = false;

  const alV = f.value('allow_leakage', 'allow_leakage true');
  const allowLeakage = alV ? r.bool(alV, "'allow_leakage'") : false;
  if (allowLeakage === undefined) ok = false;

  const report: string[] = [];
  const repV = f.value('report', 'report [cancer, difficult]');
  if (repV) {
    const items = r.list(repV, "'report'", 'class set names');
    for (const it of items ?? []) {
      const n = r.name(it, "'report'", 'a class set name');
      const got = n ? ctx.resolve(n, 'classset', "'report'") : undefined;
      if (got === undefined) ok = false;
      else if (!report.includes(got)) {
        report.push(got);
        if (targets !== undefined && ok) {
          const set = ctx.classes.classset(got, n!);
          if (set !== undefined && !checkReported(sink, set, n!.span, owner, datasets, targets, ctx)) ok = false;
        }
      }
    }
    if (items === undefined) ok = false;
  }

  if (!ok || batch === undefined || sampling === undefined || foreground === undefined || arch === undefined || schedule === undefined
    || augmentation === undefined || folds === undefined || precision === undefined || loss === undefined || evaluation === undefined
    || targets === undefined || allowLeakage === undefined || patch === undefined) return undefined;
  return {
    name,
    file,
    span: ownerSpan,
    datasets,
    architecture: arch?.name ?? null,
    architectureSpan: arch?.span ?? null,
    patch,
    patchSpan: patchV?.span ?? null,
    batch,
    sampling: { kind: sampling.kind, foregroundFraction: foreground },
    schedule: schedule?.name ?? null,
    spacing,
    spacingSpan: spV?.span ?? null,
    seed: seed ?? null,
    pretrained: pretrained?.name ?? null,
    pretrainedSpan: pretrained?.span ?? (ptV?.span ?? null),
    checkpoint,
    augmentation,
    folds,
    precision,
    loss,
    lossOptions: lossRead!.options,
    evaluation,
    targets,
    allowLeakage,
    report,
    family,
  };
}

/**
 * A reported class set against the classes the experiment evaluates (its targets, else every class
 * of its datasets). Classes the set names explicitly but the experiment lacks are left out of the
 * report: a warning that names them (MT0409). A set left with no class at all is an error
 * (MT0410). Classes selected by tagged(...) are not warned about: a tag means "those I have".
 */
function checkReported(
  sink: DiagnosticSink, set: ClassSetModel, at: Span, owner: string, datasets: readonly string[], targets: readonly string[] | null, ctx: ExperimentContext,
): boolean {
  const evaluated = new Set(targets ?? datasets.flatMap((d) => (ctx.classes.datasets.get(d)?.spec.classes ?? []).map((c) => `${d}.${c.name}`)));
  const datasetOf = (id: string) => id.slice(0, id.indexOf('.'));
  const kept = set.classes.filter((c) => evaluated.has(c));
  if (kept.length === 0) {
    const foreign = [...new Set(set.classes.map(datasetOf))];
    sink.error('MT0410', at, `class set '${set.name}' has no class that ${owner} evaluates: its ${count(set.classes.length, 'class', 'classes')} belong to ${foreign.slice(0, 4).map((d) => `'${d}'`).join(', ')}${foreign.length > 4 ? ` and ${foreign.length - 4} more` : ''}`, `the report would have nothing to show for it: remove it from 'report', or report a class set of ${targets !== null ? 'the targets' : `classes of ${datasets.join(', ')}`}`);
    return false;
  }
  const dropped = set.named.filter((c) => !evaluated.has(c));
  if (dropped.length > 0) {
    const shown = `${dropped.slice(0, 3).map((c) => `'${c}'`).join(', ')}${dropped.length > 3 ? ` and ${dropped.length - 3} more` : ''}`;
    const foreign = [...new Set(dropped.map(datasetOf).filter((d) => !datasets.includes(d)))];
    const reason = foreign.length > 0
      ? `${foreign.map((d) => `'${d}'`).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not among its datasets`
      : 'not among its targets';
    const it = dropped.length === 1 ? 'it' : 'them';
    sink.warning('MT0409', at, `class set '${set.name}' names ${shown}, which ${owner} does not evaluate (${reason}): the report leaves ${it} out`, `the report shows '${set.name}' with ${count(kept.length, 'class', 'classes')} (${kept.slice(0, 3).join(', ')}${kept.length > 3 ? ', ...' : ''}); remove ${it} from the class set${foreign.length > 0 ? `, or add ${foreign.map((d) => `'${d}'`).join(', ')} to the experiment's datasets` : ''}`);
  }
  return true;
}
