/**
 * `schedule NAME { optimizer ...  lr ...  epochs N  iterations N  clip X  validation N  checkpoint_every N
 *   phase heads|all { ... }* }`
 * Omitted values take nnU-Net's defaults. A phase may set its own `optimizer` (else the schedule's);
 * every phase of the lowered schedule records the optimiser it uses.
 */
import type { LrLaw, OptimizerSpec, PhaseSpec, ScheduleSpec } from '../../graph/types.js';
import type { Block, Declaration, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import type { Span } from '../source.js';
import { Fields, valueOf } from './fields.js';
import { bindCall, ValueReader, type ParamSpec } from './values.js';

export const SCHEDULE_DEFAULTS = {
  optimizer: { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 } as OptimizerSpec,
  lr: { kind: 'poly', initial: 1e-2, exponent: 0.9 } as LrLaw,
  epochs: 1000,
  iterationsPerEpoch: 250,
  clipNorm: 12,
  /** nnU-Net's num_val_iterations_per_epoch. */
  validationIterations: 50,
  /**
   * Epochs between `latest` checkpoints. nnU-Net writes one every 50 epochs; at the paper's scale an
   * epoch takes minutes and a checkpoint about a second, so every 10 epochs loses at most 10 epochs
   * to a crash for well under 1 % of the time.
   */
  checkpointEvery: 10,
};

const num = (r: ValueReader, v: Value, what: string) => r.number(v, what);
const nonNeg = (r: ValueReader, v: Value, what: string) => r.ranged(v, what, { min: 0 });
const frac = (r: ValueReader, v: Value, what: string) => r.fraction(v, what);
const bool = (r: ValueReader, v: Value, what: string) => r.bool(v, what);

export const OPTIMIZERS: Record<'sgd' | 'adamw', ParamSpec[]> = {
  sgd: [
    { name: 'momentum', default: 0.99, read: frac },
    { name: 'nesterov', default: true, read: bool },
    { name: 'weight_decay', default: 3e-5, read: nonNeg },
  ],
  adamw: [
    { name: 'beta1', default: 0.9, read: frac },
    { name: 'beta2', default: 0.999, read: frac },
    { name: 'weight_decay', default: 0.01, read: nonNeg },
    { name: 'amsgrad', default: false, read: bool },
  ],
};

export const LR_LAWS: Record<LrLaw['kind'], ParamSpec[]> = {
  constant: [{ name: 'value', read: nonNeg }],
  linear: [
    { name: 'from', read: nonNeg },
    { name: 'to', read: nonNeg },
  ],
  poly: [
    { name: 'initial', default: 1e-2, read: nonNeg },
    { name: 'exponent', default: 0.9, read: num },
  ],
  cosine: [
    { name: 'initial', default: 1e-2, read: nonNeg },
    { name: 'final', default: 0, read: nonNeg },
  ],
};

export function readOptimizer(r: ValueReader, v: Value): OptimizerSpec | undefined {
  const kind = r.option(v.kind === 'call' ? { kind: 'name', name: v.callee.text, span: v.callee.span } : v, 'optimizer', ['sgd', 'adamw'] as const);
  if (kind === undefined || (v.kind !== 'call' && v.kind !== 'name')) return undefined;
  const a = bindCall(r, v, OPTIMIZERS[kind], { positional: false });
  if (a === undefined) return undefined;
  if (kind === 'sgd') return { kind, momentum: a.momentum as number, nesterov: a.nesterov as boolean, weightDecay: a.weight_decay as number };
  return { kind, beta1: a.beta1 as number, beta2: a.beta2 as number, weightDecay: a.weight_decay as number, amsgrad: a.amsgrad as boolean };
}

export function readLrLaw(r: ValueReader, v: Value): LrLaw | undefined {
  if (v.kind === 'number') {
    r.sink.error('MT0301', v.span, `'lr' expects a learning-rate law, found number ${v.text}`, `write poly(${v.text}, 0.9) for nnU-Net's decay, or constant(${v.text})`);
    return undefined;
  }
  const laws = Object.keys(LR_LAWS) as LrLaw['kind'][];
  const kind = r.option(v.kind === 'call' ? { kind: 'name', name: v.callee.text, span: v.callee.span } : v, 'learning-rate law', laws);
  if (kind === undefined || (v.kind !== 'call' && v.kind !== 'name')) return undefined;
  const a = bindCall(r, v, LR_LAWS[kind], { positional: true });
  if (a === undefined) return undefined;
  const n = (k: string) => a[k] as number;
  switch (kind) {
    case 'constant':
      return { kind, value: n('value') };
    case 'linear':
      return { kind, from: n('from'), to: n('to') };
    case 'poly':
      return { kind, initial: n('initial'), exponent: n('exponent') };
    case 'cosine':
      return { kind, initial: n('initial'), final: n('final') };
  }
}

interface PhaseDraft {
  trains: PhaseSpec['trains'];
  /** 'rest' or a number. */
  epochs: number | 'rest';
  lr: LrLaw | null;
  /** The phase's own optimiser, or null for the schedule's. */
  optimizer: OptimizerSpec | null;
  span: Span;
  epochsSpan: Span;
}

export function checkSchedule(sink: DiagnosticSink, decl: Declaration, name: string, body: Block | null = decl.body): ScheduleSpec | undefined {
  const owner = `schedule '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'schedule', body, ['phase']);
  let ok = true;

  const optV = f.value('optimizer', 'optimizer sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)');
  const optimizer = optV ? readOptimizer(r, optV) : SCHEDULE_DEFAULTS.optimizer;
  if (optimizer === undefined) ok = false;

  const lrV = f.value('lr', 'lr poly(0.01, 0.9)');
  const lr = lrV ? readLrLaw(r, lrV) : SCHEDULE_DEFAULTS.lr;
  if (lr === undefined) ok = false;

  const epochsV = f.value('epochs', 'epochs 1000');
  const epochs = epochsV ? r.integer(epochsV, "'epochs'", 1) : undefined;
  if (epochsV && epochs === undefined) ok = false;

  const itV = f.value('iterations', 'iterations 250');
  const iterations = itV ? r.integer(itV, "'iterations'", 1, 'training iterations (batches) per epoch') : SCHEDULE_DEFAULTS.iterationsPerEpoch;
  if (iterations === undefined) ok = false;

  const clipV = f.value('clip', 'clip 12');
  const clip = clipV ? r.ranged(clipV, "'clip'", { min: 0, why: 'the global gradient-norm limit; 0 turns clipping off' }) : SCHEDULE_DEFAULTS.clipNorm;
  if (clip === undefined) ok = false;

  const valV = f.value('validation', 'validation 50');
  const validation = valV ? r.integer(valV, "'validation'", 0, 'validation batches per epoch (nnU-Net: 50; 0 turns validation off)') : SCHEDULE_DEFAULTS.validationIterations;
  if (validation === undefined) ok = false;

  const ckV = f.value('checkpoint_every', 'checkpoint_every 10');
  const checkpointEvery = ckV ? r.integer(ckV, "'checkpoint_every'", 1, 'epochs between two resumable checkpoints') : SCHEDULE_DEFAULTS.checkpointEvery;
  if (checkpointEvery === undefined) ok = false;

  const drafts: PhaseDraft[] = [];
  for (const e of f.all('phase')) {
    const d = readPhase(sink, r, e.value, e.block, e.key.span, owner);
    if (d === undefined) ok = false;
    else drafts.push(d);
  }

  if (!ok || optimizer === undefined || lr === undefined || iterations === undefined || clip === undefined || validation === undefined || checkpointEvery === undefined) return undefined;
  const loop = { validationIterations: validation, checkpointEvery };

  if (drafts.length === 0) {
    const total = epochs ?? SCHEDULE_DEFAULTS.epochs;
    return { name, optimizer, epochs: total, iterationsPerEpoch: iterations, clipNorm: clip, phases: [{ trains: 'all', epochs: total, lr, optimizer: structuredClone(optimizer) }], ...loop };
  }

  const rests = drafts.filter((d) => d.epochs === 'rest');
  if (rests.length > 1) {
    sink.error('MT0307', rests[1].epochsSpan, `only one phase can take the 'rest' of the epochs (${owner} has ${rests.length})`, 'give the other phases a number of epochs');
    return undefined;
  }
  const fixed = drafts.reduce((s, d) => s + (d.epochs === 'rest' ? 0 : d.epochs), 0);
  const total = epochs ?? (rests.length > 0 ? SCHEDULE_DEFAULTS.epochs : fixed);
  let running = 0;
  for (const d of drafts) {
    if (d.epochs === 'rest') continue;
    running += d.epochs;
    if (running > total) {
      sink.error('MT0307', d.epochsSpan, `the phases of ${owner} reach ${running} epochs here, more than its ${total} epochs`, epochsV ? `raise 'epochs' to at least ${fixed}${rests.length > 0 ? ' plus the rest' : ''}, or shorten the phases` : `set 'epochs' explicitly`);
      return undefined;
    }
  }
  if (rests.length === 1) {
    const left = total - fixed;
    if (left < 1) {
      sink.error('MT0307', rests[0].epochsSpan, `no epochs are left for the 'rest' phase: the other phases take all ${total} epochs of ${owner}`, `raise 'epochs' above ${fixed}`);
      return undefined;
    }
  } else if (fixed !== total) {
    sink.error('MT0307', epochsV?.span ?? decl.name?.span ?? decl.kind.span, `the phases of ${owner} add up to ${fixed} epochs, but 'epochs' is ${total}`, "make them agree, or write 'epochs rest' in the last phase");
    return undefined;
  }
  const phases: PhaseSpec[] = drafts.map((d) => ({
    trains: d.trains,
    epochs: d.epochs === 'rest' ? total - fixed : d.epochs,
    lr: d.lr ?? lr,
    optimizer: structuredClone(d.optimizer ?? optimizer),
  }));
  return { name, optimizer, epochs: total, iterationsPerEpoch: iterations, clipNorm: clip, phases, ...loop };
}

function readPhase(
  sink: DiagnosticSink,
  r: ValueReader,
  value: Value | null,
  block: Block | null,
  keySpan: Span,
  owner: string,
): PhaseDraft | undefined {
  if (value === null) {
    sink.error('MT0106', keySpan, "'phase' needs what it trains: heads or all", 'write: phase heads { epochs 10  lr linear(0, 0.01) }');
    return undefined;
  }
  const trains = r.option(value, 'phase', ['heads', 'all'] as const);
  if (block === null) {
    sink.error('MT0304', value.span, "'phase' needs a block with its epochs and lr", `write: phase ${trains ?? 'all'} { epochs 50  lr poly(0.01, 0.9) }`);
    return undefined;
  }
  const phaseOwner = `a phase of ${owner}`;
  const f = new Fields(sink, phaseOwner, value.span, 'phase', block);
  const epochsEntry = f.entry('epochs');
  let epochs: number | 'rest' | undefined;
  let epochsSpan = value.span;
  if (epochsEntry === undefined) {
    sink.error('MT0304', value.span, `this phase is missing 'epochs'`, "write: epochs 10  (or epochs rest for the remaining epochs)");
  } else {
    const v = valueOf(sink, epochsEntry, 'epochs 10');
    if (v) {
      epochsSpan = v.span;
      if (v.kind === 'name' && v.name === 'rest') epochs = 'rest';
      else if (v.kind === 'name') sink.error('MT0308', v.span, `phase epochs are a number or 'rest', found name '${v.name}'`, v.name.toLowerCase().startsWith('re') ? "did you mean 'rest'?" : undefined);
      else epochs = r.integer(v, "phase 'epochs'", 1);
    }
  }
  const lrV = f.value('lr', 'lr linear(0, 0.01)');
  const lr = lrV ? readLrLaw(r, lrV) : null;
  const optV = f.value('optimizer', 'optimizer adamw(weight_decay: 3e-5, amsgrad: true)');
  const optimizer = optV ? readOptimizer(r, optV) : null;
  if (trains === undefined || epochs === undefined || lr === undefined || optimizer === undefined) return undefined;
  return { trains, epochs, lr, optimizer, span: value.span, epochsSpan };
}
