import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec } from '../../graph/types.js';
import { Prng } from '../rng.js';
import { LEAKY_RELU_SLOPE } from './layers.js';

/**
 * What every network kind shares: parameters by stable name (tf variables in `parameterSpecs`
 * order), their initialisation, the output heads (`head.*`, fresh when fine-tuning), weights in and
 * out, and the forward pass's signature. The kinds themselves (unet.ts, swin.ts) are registered in
 * registry.ts; callers build and describe networks through the registry only.
 */

export type ParamRole = 'weight' | 'bias' | 'scale' | 'offset';

export interface ParamSpec {
  name: string;
  shape: number[];
  role: ParamRole;
  /** Fan-in used by He initialisation (weights only). */
  fanIn: number;
  /** A norm scale initialised to 0 instead of 1 (the last norm of a residual block). */
  zeroInit?: boolean;
  /** A weight drawn from a normal distribution with this standard deviation, truncated at 2 std (transformer weights), not He's. */
  std?: number;
}

export const HEAD_PREFIX = 'head.';

/** True for the output-head parameters (re-initialised when fine-tuning), the same prefix for every kind. */
export function isHeadParam(name: string): boolean {
  return name.startsWith(HEAD_PREFIX);
}

/** Parameter name prefix of output k's 1x1x1 conv (`head.` for k = 0, `head.ds{k}.` otherwise). */
export function outputHeadPrefix(k: number): string {
  return k === 0 ? HEAD_PREFIX : `${HEAD_PREFIX}ds${k}.`;
}

/**
 * A parameter's initial values: weights He normal (kaiming_normal_, a = 0.01, fan_in) or, with
 * `std`, a normal truncated at 2 std; biases 0; norm scale 1 (0 with `zeroInit`), offset 0.
 */
export function initialValue(spec: ParamSpec, rng: Prng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  switch (spec.role) {
    case 'weight': {
      if (spec.std !== undefined) {
        for (let i = 0; i < size; i++) {
          let v = rng.normal();
          while (Math.abs(v) > 2) v = rng.normal();
          out[i] = v * spec.std;
        }
        break;
      }
      const gain = Math.sqrt(2 / (1 + LEAKY_RELU_SLOPE * LEAKY_RELU_SLOPE));
      const std = gain / Math.sqrt(spec.fanIn);
      for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
      break;
    }
    case 'scale':
      out.fill(spec.zeroInit ? 0 : 1);
      break;
    case 'bias':
    case 'offset':
      break;
  }
  return out;
}

/** Where a network's initial parameter values come from: seeded initialisation or given weights. */
export type ParamValues = (spec: ParamSpec) => Float32Array;

/** Seeded initial values (one generator, drawn in `parameterSpecs` order). */
export function seededValues(seed: number): ParamValues {
  const rng = new Prng(seed);
  return (spec) => initialValue(spec, rng);
}

/** The given weights; every parameter must be present with its exact size. */
export function givenValues(weights: ReadonlyMap<string, Float32Array>): ParamValues {
  return (spec) => {
    const w = weights.get(spec.name);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`weights lack parameter '${spec.name}'`);
    if (w.length !== size) throw new Error(`parameter '${spec.name}' has ${w.length} values, expected ${size} (shape [${spec.shape.join(', ')}])`);
    return w;
  };
}

/** A trained or trainable network, whatever its kind. */
export interface Network {
  readonly architecture: ArchitectureSpec;
  readonly heads: HeadSpec[];
  /** Parameters by stable name, in `parameterSpecs` order. */
  readonly params: ReadonlyMap<string, tf.Variable>;
  /** `x` [B, z, y, x, 1] to full-resolution logits [B, z, y, x, heads]. Call inside tf.tidy or dispose the result. */
  apply(x: tf.Tensor5D): tf.Tensor5D;
  /** Every output (the registry's `outputCount`): full resolution first, then the deep-supervision outputs. */
  applyAll(x: tf.Tensor5D): tf.Tensor5D[];
  variables(): tf.Variable[];
  /** The variables of output k's 1x1x1 conv (k = 0: the full-resolution head). */
  outputHeadVariables(k: number): tf.Variable[];
  headVariables(): tf.Variable[];
  backboneVariables(): tf.Variable[];
  parameterCount(): number;
  /** Copies of all weights by name (for checkpoints and tests). */
  weights(): Map<string, Float32Array>;
  dispose(): void;
}

let modelCounter = 0;

/** The parameter bookkeeping of every kind; a kind adds its forward pass. */
export abstract class ParamNetwork implements Network {
  readonly architecture: ArchitectureSpec;
  readonly heads: HeadSpec[];
  readonly params: ReadonlyMap<string, tf.Variable>;
  protected disposed = false;

  protected constructor(arch: ArchitectureSpec, heads: HeadSpec[], specs: ParamSpec[], values: ParamValues) {
    if (heads.length < 1) throw new Error('a model needs at least one output head');
    this.architecture = structuredClone(arch);
    this.heads = heads.map((h) => ({ ...h, labels: [...h.labels] }));
    // tfjs variable names are global to the engine; prefix them so several models can coexist.
    const id = `${arch.kind}${++modelCounter}`;
    const params = new Map<string, tf.Variable>();
    for (const spec of specs) {
      const init = tf.tensor(values(spec), spec.shape, 'float32');
      params.set(spec.name, tf.variable(init, true, `${id}/${spec.name}`));
      init.dispose();
    }
    this.params = params;
  }

  protected p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const v = this.params.get(name);
    if (!v) throw new Error(`internal: missing parameter '${name}'`);
    return v as unknown as tf.Tensor<R>;
  }

  /** A bias parameter, or null where the layer conventions have none. */
  protected bias(name: string): tf.Tensor1D | null {
    return (this.params.get(name) as unknown as tf.Tensor1D | undefined) ?? null;
  }

  apply(x: tf.Tensor5D): tf.Tensor5D {
    return this.forward(x, false)[0];
  }

  applyAll(x: tf.Tensor5D): tf.Tensor5D[] {
    return this.forward(x, true);
  }

  /** The outputs (all of them, or only the full-resolution one). */
  protected abstract forward(x: tf.Tensor5D, all: boolean): tf.Tensor5D[];

  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  outputHeadVariables(k: number): tf.Variable[] {
    const weight = this.params.get(`${outputHeadPrefix(k)}weight`);
    if (!weight) throw new Error(`model has no output ${k} (parameter '${outputHeadPrefix(k)}weight')`);
    const bias = this.params.get(`${outputHeadPrefix(k)}bias`);
    return bias ? [weight, bias] : [weight];
  }

  headVariables(): tf.Variable[] {
    return [...this.params.entries()].filter(([name]) => isHeadParam(name)).map(([, v]) => v);
  }

  backboneVariables(): tf.Variable[] {
    return [...this.params.entries()].filter(([name]) => !isHeadParam(name)).map(([, v]) => v);
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  weights(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, new Float32Array(v.dataSync()));
    return out;
  }

  /** Frees what a kind keeps besides its parameters (cached constants). */
  protected disposeExtra(): void {}

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.disposeExtra();
    this.disposed = true;
  }
}
