import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec, ScheduleSpec } from '../../graph/types.js';
import { adamwStep, scaleArrays, sgdStep, sumOfSquares } from '../kernels/optim_ops.js';
import { useFusedOps } from '../model/fused.js';

/**
 * Optimisers with PyTorch semantics (what nnU-Net and MultiTalent's numbers were obtained with).
 *
 * SGD (torch.optim.SGD, dampening 0):
 *   g += wd * w;  buf = mu * buf + g (buf = g on the first step);
 *   step = nesterov ? g + mu * buf : buf;  w -= lr * step
 * AdamW (torch.optim.AdamW, eps 1e-8):
 *   w *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *   with amsgrad: vmax = max(vmax, v) replaces v in the step (torch's amsgrad=True).
 *
 * State is kept per variable (by its tfjs name) and created on the variable's first update, so a
 * variable first trained in a later phase starts with fresh state.
 *
 * Phases (PhaseOptimizers): each phase of a schedule names its optimiser. Consecutive phases with
 * equal optimiser specs share one optimiser, so its state (momentum buffers, Adam moments and step
 * counts) carries over from one phase to the next; a phase whose optimiser differs gets a new one
 * with fresh state, and the previous one is disposed (as the MultiTalent authors' fine-tuning
 * creates a new SGD after its AdamW heads phase).
 */
export interface Optimizer {
  /** Applies one update; `grads[i]` is the gradient of `vars[i]`. Does not dispose `grads`. */
  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void;
  /** Everything needed to continue exactly (momentum buffers, moments, step counts), as host arrays (read asynchronously: GPU backends have no synchronous read). */
  exportState(): Promise<OptimizerState>;
  /** Continues from `exportState()` of an optimiser of the same kind (a checkpoint's). */
  importState(state: OptimizerState): void;
  dispose(): void;
}

/** One slot of per-variable state, e.g. SGD's momentum buffer of `enc0.conv0.weight`. */
export interface OptimizerSlot {
  variable: string;
  /** `momentum` (SGD), `m` / `v` (AdamW). */
  slot: string;
  shape: number[];
  values: Float32Array;
}

export interface OptimizerState {
  kind: OptimizerSpec['kind'];
  slots: OptimizerSlot[];
  /** AdamW: the update count per variable (its bias correction). */
  steps: Record<string, number>;
}

function checkKind(state: OptimizerState, kind: OptimizerSpec['kind']): void {
  if (state.kind !== kind) throw new Error(`the checkpoint holds ${state.kind} optimiser state, but the schedule uses ${kind}`);
}

const ADAM_EPS = 1e-8;

class Sgd implements Optimizer {
  private readonly buffers = new Map<string, tf.Variable>();
  /** Momentum buffers as host arrays, used when tensors live in JS memory (see model/fused.ts). */
  private readonly hostBuffers = new Map<string, Float32Array>();
  private readonly hostShapes = new Map<string, number[]>();

  constructor(
    private readonly momentum: number,
    private readonly nesterov: boolean,
    private readonly weightDecay: number,
  ) {}

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    if (useFusedOps()) {
      this.applyHost(vars, grads, lr);
      return;
    }
    tf.tidy(() => {
      vars.forEach((w, i) => {
        let g = grads[i];
        if (this.weightDecay !== 0) g = tf.add(g, tf.mul(w, this.weightDecay));
        let step = g;
        if (this.momentum !== 0) {
          const buf = this.buffers.get(w.name);
          let next: tf.Tensor;
          if (!buf) {
            next = g;
            this.buffers.set(w.name, tf.variable(g, false));
          } else {
            next = tf.add(tf.mul(buf, this.momentum), g);
            buf.assign(next);
          }
          step = this.nesterov ? tf.add(g, tf.mul(next, this.momentum)) : next;
        }
        w.assign(tf.sub(w, tf.mul(step, lr)));
      });
    });
  }

  /**
   * The same update in one pass over host arrays (tfjs's cpu backend broadcasts scalars slowly): all
   * tensors in one native call when the addon is built (kernels/optim_ops.ts), bit-identical to its
   * JavaScript version.
   */
  private applyHost(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    const tensors = vars.map((w, i) => {
      const wv = w.dataSync() as Float32Array;
      let buf = this.hostBuffers.get(w.name);
      const first = !buf;
      if (!buf) {
        buf = new Float32Array(wv.length);
        this.hostBuffers.set(w.name, buf);
        this.hostShapes.set(w.name, [...w.shape]);
      }
      return { w: wv, g: grads[i].dataSync() as Float32Array, buf, first };
    });
    const outs = sgdStep(tensors, { lr, momentum: this.momentum, nesterov: this.nesterov, weightDecay: this.weightDecay });
    vars.forEach((w, i) => tf.tidy(() => w.assign(tf.tensor(outs[i], w.shape, 'float32'))));
  }

  async exportState(): Promise<OptimizerState> {
    const slots: OptimizerSlot[] = [];
    for (const [variable, b] of this.hostBuffers) slots.push({ variable, slot: 'momentum', shape: this.hostShapes.get(variable) ?? [b.length], values: b.slice() });
    for (const [variable, b] of this.buffers) slots.push({ variable, slot: 'momentum', shape: [...b.shape], values: ((await b.data()) as Float32Array).slice() });
    return { kind: 'sgd', slots, steps: {} };
  }

  importState(state: OptimizerState): void {
    checkKind(state, 'sgd');
    this.dispose();
    for (const s of state.slots) {
      if (useFusedOps()) {
        this.hostBuffers.set(s.variable, s.values.slice());
        this.hostShapes.set(s.variable, [...s.shape]);
      } else this.buffers.set(s.variable, tf.variable(tf.tensor(s.values, s.shape, 'float32'), false));
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    this.hostBuffers.clear();
    this.hostShapes.clear();
  }
}

class AdamW implements Optimizer {
  private readonly state = new Map<string, { m: tf.Variable; v: tf.Variable; vmax: tf.Variable | null; t: number }>();

  constructor(
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly weightDecay: number,
    private readonly amsgrad = false,
  ) {}

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    if (useFusedOps()) {
      this.applyHost(vars, grads, lr);
      return;
    }
    tf.tidy(() => {
      vars.forEach((w, i) => {
        const g = grads[i];
        let s = this.state.get(w.name);
        if (!s) {
          s = {
            m: tf.variable(tf.zerosLike(w), false),
            v: tf.variable(tf.zerosLike(w), false),
            vmax: this.amsgrad ? tf.variable(tf.zerosLike(w), false) : null,
            t: 0,
          };
          this.state.set(w.name, s);
        }
        s.t += 1;
        const m = tf.add(tf.mul(s.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(s.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        s.m.assign(m);
        s.v.assign(v);
        let second: tf.Tensor = v;
        if (s.vmax) {
          second = tf.maximum(s.vmax, v);
          s.vmax.assign(second);
        }
        const mHat = tf.div(m, 1 - this.beta1 ** s.t);
        const vHat = tf.div(second, 1 - this.beta2 ** s.t);
        const decayed = this.weightDecay !== 0 ? tf.mul(w, 1 - lr * this.weightDecay) : w;
        w.assign(tf.sub(decayed, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), ADAM_EPS)), lr)));
      });
    });
  }

  /**
   * The same update over host arrays, in double (kernels/optim_ops.ts). The moments stay the
   * `state` variables; on host-memory backends their arrays are the variables' own storage, which
   * the step updates in place (nothing else holds these optimiser-private tensors).
   */
  private applyHost(vars: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number): void {
    const tensors = vars.map((w, i) => {
      let s = this.state.get(w.name);
      if (!s) {
        const zeros = (): tf.Variable => tf.tidy(() => tf.variable(tf.zeros(w.shape), false));
        s = { m: zeros(), v: zeros(), vmax: this.amsgrad ? zeros() : null, t: 0 };
        this.state.set(w.name, s);
      }
      s.t += 1;
      const host = (v: tf.Variable): Float32Array => v.dataSync() as Float32Array;
      return { w: host(w), g: grads[i].dataSync() as Float32Array, m: host(s.m), v: host(s.v), ...(s.vmax ? { vmax: host(s.vmax) } : {}), t: s.t };
    });
    const outs = adamwStep(tensors, { lr, beta1: this.beta1, beta2: this.beta2, eps: ADAM_EPS, weightDecay: this.weightDecay });
    vars.forEach((w, i) => tf.tidy(() => w.assign(tf.tensor(outs[i], w.shape, 'float32'))));
  }

  async exportState(): Promise<OptimizerState> {
    const slots: OptimizerSlot[] = [];
    const steps: Record<string, number> = {};
    for (const [variable, s] of this.state) {
      slots.push({ variable, slot: 'm', shape: [...s.m.shape], values: ((await s.m.data()) as Float32Array).slice() });
      slots.push({ variable, slot: 'v', shape: [...s.v.shape], values: ((await s.v.data()) as Float32Array).slice() });
      if (s.vmax) slots.push({ variable, slot: 'vmax', shape: [...s.vmax.shape], values: ((await s.vmax.data()) as Float32Array).slice() });
      steps[variable] = s.t;
    }
    return { kind: 'adamw', slots, steps };
  }

  importState(state: OptimizerState): void {
    checkKind(state, 'adamw');
    this.dispose();
    const by = new Map<string, { m?: OptimizerSlot; v?: OptimizerSlot; vmax?: OptimizerSlot }>();
    for (const s of state.slots) by.set(s.variable, { ...by.get(s.variable), [s.slot]: s });
    for (const [variable, { m, v, vmax }] of by) {
      if (!m || !v || (this.amsgrad && !vmax)) throw new Error(`the checkpoint's AdamW state of '${variable}' is incomplete`);
      const t = (x: OptimizerSlot) => tf.variable(tf.tensor(x.values.slice(), x.shape, 'float32'), false);
      this.state.set(variable, { m: t(m), v: t(v), vmax: this.amsgrad && vmax ? t(vmax) : null, t: state.steps[variable] ?? 0 });
    }
  }

  dispose(): void {
    for (const s of this.state.values()) {
      s.m.dispose();
      s.v.dispose();
      s.vmax?.dispose();
    }
    this.state.clear();
  }
}

export function createOptimizer(spec: OptimizerSpec): Optimizer {
  switch (spec.kind) {
    case 'sgd':
      return new Sgd(spec.momentum, spec.nesterov, spec.weightDecay);
    case 'adamw':
      return new AdamW(spec.beta1, spec.beta2, spec.weightDecay, spec.amsgrad ?? false);
  }
}

/** The optimiser of a phase: its own, else the schedule's. */
export function phaseOptimizerSpec(schedule: ScheduleSpec, phase: number): OptimizerSpec {
  const p = schedule.phases[phase];
  if (!p) throw new RangeError(`schedule '${schedule.name}' has no phase ${phase + 1}`);
  return p.optimizer ?? schedule.optimizer;
}

function sameSpec(a: OptimizerSpec, b: OptimizerSpec): boolean {
  const norm = (s: OptimizerSpec) => {
    const full: Record<string, unknown> = s.kind === 'adamw' ? { ...s, amsgrad: s.amsgrad ?? false } : { ...s };
    return JSON.stringify(full, Object.keys(full).sort());
  };
  return norm(a) === norm(b);
}

/**
 * One optimiser per run of consecutive phases with equal optimiser specs (see the module comment):
 * `forPhase(i)` returns phase i's optimiser, creating it (and disposing the previous one) when the
 * spec changes. Phases are visited in order (a resumed run may start at any phase).
 */
export class PhaseOptimizers {
  private current: { spec: OptimizerSpec; optimizer: Optimizer } | null = null;

  constructor(private readonly schedule: ScheduleSpec) {}

  forPhase(phase: number): { optimizer: Optimizer; fresh: boolean; spec: OptimizerSpec } {
    const spec = phaseOptimizerSpec(this.schedule, phase);
    if (this.current && sameSpec(this.current.spec, spec)) return { optimizer: this.current.optimizer, fresh: false, spec };
    this.current?.optimizer.dispose();
    this.current = { spec, optimizer: createOptimizer(spec) };
    return { optimizer: this.current.optimizer, fresh: true, spec };
  }

  dispose(): void {
    this.current?.optimizer.dispose();
    this.current = null;
  }
}

/** A short description of an optimiser spec for logs. */
export function describeOptimizer(spec: OptimizerSpec): string {
  if (spec.kind === 'sgd') return `SGD (momentum ${spec.momentum}${spec.nesterov ? ', Nesterov' : ''}, weight decay ${spec.weightDecay})`;
  return `AdamW (betas ${spec.beta1}, ${spec.beta2}, weight decay ${spec.weightDecay}${spec.amsgrad ? ', AMSGrad' : ''})`;
}

/**
 * Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_: when the L2 norm over all
 * gradients exceeds `maxNorm`, every gradient is scaled by maxNorm / (norm + 1e-6). `maxNorm` 0
 * disables clipping. Returns new tensors (the caller disposes them) and the norm before clipping:
 * a number on backends with host-memory tensors, a scalar tensor elsewhere (on a GPU the clipping is
 * decided on the device, so the step never waits for a read-back; the caller disposes the tensor).
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number | tf.Scalar } {
  if (!useFusedOps()) return clipOnDevice(grads, maxNorm);
  const norm = hostGlobalNorm(grads);
  if (maxNorm <= 0 || !(norm > maxNorm)) return { grads: grads.map((g) => tf.clone(g)), norm };
  const coef = maxNorm / (norm + 1e-6);
  const scaled = scaleArrays(grads.map((g) => g.dataSync() as Float32Array), coef);
  return { grads: scaled.map((v, i) => tf.tensor(v, grads[i].shape, 'float32')), norm };
}

function clipOnDevice(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    if (maxNorm <= 0) return { grads: grads.map((g) => tf.clone(g)), norm }; // clones share the data: no copy
    const coef = tf.where(tf.greater(norm, maxNorm), tf.div(maxNorm, tf.add(norm, 1e-6)), tf.onesLike(norm)) as tf.Scalar;
    return { grads: grads.map((g) => tf.mul(g, coef)), norm };
  });
}

/**
 * The same norm over host arrays: a float64 sum of float32 squares in a fixed order (as tfjs's
 * float32 sum up to rounding), native and multi-threaded when the addon is built (kernels/optim_ops.ts).
 */
function hostGlobalNorm(grads: readonly tf.Tensor[]): number {
  return Math.sqrt(sumOfSquares(grads.map((g) => g.dataSync() as Float32Array)));
}
