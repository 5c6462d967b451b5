import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec, OptimizerSpec, Vec3 } from '../../graph/types.js';
import { createNetwork } from '../model/registry.js';
import { Prng } from '../rng.js';
import { createOptimizer } from './optimizer.js';
import { trainStep } from './step.js';

/** Sizes one training step or one inference forward pass on the active backend (see bench/step-tfjs.ts). */
export interface StepMeasureConfig {
  /** 'unet' (2 conv units per stage) or 'resenc_unet' (residual encoder, 1 conv unit per decoder stage). */
  arch?: 'unet' | 'resenc_unet';
  /** Residual blocks per encoder stage (resenc_unet; default: MultiTalent's released ResEnc plan, 1, 2, 3, 4, 4, 4). */
  blocks?: number[];
  patch: Vec3;
  features: number[];
  batch: number;
  heads: number;
  /** Timed repetitions after `warmup` untimed ones. */
  repeats: number;
  warmup: number;
  /** 'train' = forward + loss + backward + SGD; 'infer' = one forward pass + sigmoid. */
  mode: 'train' | 'infer';
}

export interface StepMeasurement {
  config: StepMeasureConfig;
  backend: string;
  parameters: number;
  /** Milliseconds of each timed repetition. */
  samples: number[];
  medianMs: number;
  /** Process CPU milliseconds (user + system, every thread) of each timed repetition, and their median. */
  cpuSamples: number[];
  medianCpuMs: number;
}

/** Strides for a stage list: stage 0 [1,1,1], then isotropic 2 (the quickstart networks). */
export function isotropicStrides(stages: number): Vec3[] {
  return Array.from({ length: stages }, (_, i): Vec3 => (i === 0 ? [1, 1, 1] : [2, 2, 2]));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Resolves after pending immediates (and Node-API finalizers) have run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Residual blocks per encoder stage of MultiTalent's released ResEnc plan (1, 2, 3, 4, 4, 4, then 4;
 * stdlib's multitalent_resenc). nnU-Net v2's own default, which the compiler uses when an
 * architecture gives no `blocks`, is 1, 3, 4, 6, 6, 6.
 */
export function defaultResidualBlocks(stages: number): number[] {
  return Array.from({ length: stages }, (_, i) => [1, 2, 3, 4][Math.min(i, 3)]);
}

/** The benchmarked network: isotropic strides (stage 0: 1, then 2), as bench/pytorch_reference.py builds it. */
export function benchArchitecture(config: Pick<StepMeasureConfig, 'arch' | 'blocks' | 'patch' | 'features'>): ArchitectureSpec {
  const residual = config.arch === 'resenc_unet';
  return {
    name: 'measure',
    kind: residual ? 'resenc_unet' : 'unet',
    patch: config.patch,
    features: config.features,
    strides: isotropicStrides(config.features.length),
    convsPerStage: residual ? 1 : 2,
    ...(residual ? { blocksPerStage: config.blocks ?? defaultResidualBlocks(config.features.length) } : {}),
  };
}

export async function measureStep(config: StepMeasureConfig): Promise<StepMeasurement> {
  const arch = benchArchitecture(config);
  const heads: HeadSpec[] = Array.from({ length: config.heads }, (_, i) => ({ dataset: `d${i % 4}`, name: `c${i}`, labels: [1] }));
  const model = createNetwork(arch, heads, 1);
  const sgd: OptimizerSpec = { kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 };
  const optimizer = createOptimizer(sgd);
  const rng = new Prng(7);
  const [z, y, x] = config.patch;
  const vox = z * y * x;
  const imageData = new Float32Array(config.batch * vox).map(() => rng.normal());
  const targetData = new Float32Array(config.batch * vox * config.heads).map(() => (rng.next() < 0.1 ? 1 : 0));
  const maskData = new Float32Array(config.batch * config.heads).map((_, i) => ((i % config.heads) % 4 === Math.floor(i / config.heads) % 4 ? 1 : 0));
  const image = tf.tensor5d(imageData, [config.batch, z, y, x, 1]);
  const targets = tf.tensor5d(targetData, [config.batch, z, y, x, config.heads]);
  const mask = tf.tensor2d(maskData, [config.batch, config.heads]);
  const vars = model.variables();
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  try {
    for (let r = 0; r < config.warmup + config.repeats; r++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      if (config.mode === 'train') {
        // Timing only: the wasm backend's conv3d gradients are wrong (see backend.ts), so no finiteness check.
        await trainStep(model, vars, optimizer, { image, targets, mask }, 1e-2, 12, false);
      } else {
        const probs = tf.tidy(() => tf.sigmoid(model.apply(image)));
        await probs.data();
        probs.dispose();
      }
      const dt = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      if (r >= config.warmup) {
        samples.push(dt);
        cpuSamples.push((cpu.user + cpu.system) / 1000);
      }
      // Let the event loop run between steps, as a training loop does: Node-API finalizers (which
      // return the native kernels' pooled output buffers for reuse) only run from it.
      await yieldToEventLoop();
    }
  } finally {
    tf.dispose([image, targets, mask]);
    optimizer.dispose();
    model.dispose();
  }
  return {
    config,
    backend: tf.getBackend(),
    parameters: arch.features.length > 0 ? countParams(arch, config.heads) : 0,
    samples,
    medianMs: median(samples),
    cpuSamples,
    medianCpuMs: median(cpuSamples),
  };
}

function countParams(arch: ArchitectureSpec, heads: number): number {
  const m = createNetwork(arch, Array.from({ length: heads }, (_, i) => ({ dataset: 'd', name: `c${i}`, labels: [1] })), 0);
  const n = m.parameterCount();
  m.dispose();
  return n;
}
