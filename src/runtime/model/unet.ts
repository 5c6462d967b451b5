import * as tf from '@tensorflow/tfjs';
import { layersOf } from '../../graph/layers.js';
import type { ArchitectureSpec, HeadSpec, Vec3 } from '../../graph/types.js';
import { blockAverage, concatChannels, convUnit, LEAKY_RELU_SLOPE, pointwise, residualAct, upsample } from './layers.js';
import { givenValues, HEAD_PREFIX, outputHeadPrefix, ParamNetwork, seededValues, type ParamSpec, type ParamValues } from './network.js';

/**
 * nnU-Net "plain" 3D U-Net with one sigmoid output channel per head (logits out; no softmax).
 *
 * Encoder stage i: `convsPerStage` conv units with `features[i]` channels, the first strided by
 * `strides[i]`. Decoder stage i (from the second-deepest up to 0): transposed conv (kernel = stride of
 * stage i+1) to `features[i]` channels, concatenation with the encoder skip, `convsPerStage` conv units.
 * Output: 1x1x1 conv from `features[0]` to one channel per head.
 *
 * Deep supervision (`architecture.deepSupervision`): every decoder stage i >= 1 gets its own 1x1x1
 * output conv `head.ds{i}.*` from `features[i]` to one channel per head (logits at the resolution of
 * encoder stage i, i.e. the input divided by `outputStrides(arch)[i]`). They are output heads
 * (trained in `heads` phases, fresh when fine-tuning); `applyAll` returns every output, full
 * resolution first, while `apply` (inference) returns the full-resolution output only.
 *
 * Residual encoder (`kind: resenc_unet`, nnU-Net's ResEnc U-Net as the method reference describes it):
 * a stem conv unit (stage 0's kernel, 1 -> features[0]), then per encoder stage i `blocksPerStage[i]`
 * residual blocks: conv unit (the first strided by `strides[i]`), conv + InstanceNorm (its scale
 * zero-initialised, so a fresh block passes its skip through), plus the skip (identity, or a strided
 * 1x1x1 conv + InstanceNorm when the stride or channel count changes), then LeakyReLU. The decoder is
 * the plain one with `convsPerStage` (1) conv units per stage.
 *
 * Parameter names (stable; checkpoints and fine-tuning rely on them):
 *   enc{i}.conv{j}.weight [kz,ky,kx,in,out] (kernel of the stage, 3x3x3 unless `kernels` says 1 on an axis), enc{i}.conv{j}.bias [out], enc{i}.norm{j}.scale/offset [out]
 *   dec{i}.up.weight [sz,sy,sx,out,in], dec{i}.up.bias [out], dec{i}.conv{j}.*, dec{i}.norm{j}.*
 *   head.weight [1,1,1,features[0],heads], head.bias [heads]
 *   head.ds{i}.weight [1,1,1,features[i],heads], head.ds{i}.bias [heads]   (deep supervision, i = 1 .. n-2)
 *   resenc_unet encoder instead of enc{i}.conv{j}: stem.conv.*, stem.norm.*,
 *     enc{i}.block{j}.conv1.* / norm1.* / conv2.* / norm2.*, and enc{i}.block{j}.skip.* / skip_norm.* where needed
 *
 * Layer conventions (`architecture.layers`, graph/layers.ts; imported nnU-Net networks): without
 * `convBias` the conv units have no `.bias`, without `upsampleBias` no `dec{i}.up.bias`, without
 * `headBias` no `head*.bias`; `decoderKernels: deeper` gives dec{i} stage i + 1's kernel; `padding: symmetric` pads strided convolutions as PyTorch does; with
 * `residualSkip: avgpool_conv` a block's skip is an average pooling by the stride and, only where
 * the channels change, `skip.weight` (no bias) + `skip_norm.*` (nnU-Net v2's BasicBlockD).
 */

export type { ParamRole, ParamSpec } from './network.js';
export { initialValue, isHeadParam, outputHeadPrefix } from './network.js';

/** Checks an architecture for what this implementation needs; throws a readable error otherwise. */
export function validateArchitecture(arch: ArchitectureSpec): void {
  const where = `architecture '${arch.name}'`;
  if (arch.kind !== 'unet' && arch.kind !== 'resenc_unet') throw new Error(`${where}: kind '${String(arch.kind)}' is not a U-Net`);
  if (arch.kind === 'resenc_unet') {
    const b = arch.blocksPerStage;
    if (!b || b.length !== arch.features.length || b.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new Error(`${where}: a resenc_unet needs blocksPerStage with a positive integer per stage (${arch.features.length} stages)`);
    }
  }
  if (arch.features.length < 1) throw new Error(`${where}: needs at least one stage`);
  if (arch.strides.length !== arch.features.length) {
    throw new Error(`${where}: ${arch.features.length} feature stages but ${arch.strides.length} strides`);
  }
  if (arch.strides[0].some((s) => s !== 1)) throw new Error(`${where}: stage 0 stride must be [1, 1, 1]`);
  if (!Number.isInteger(arch.convsPerStage) || arch.convsPerStage < 1) {
    throw new Error(`${where}: convsPerStage must be a positive integer`);
  }
  if (arch.kernels !== undefined) {
    if (arch.kernels.length !== arch.features.length) {
      throw new Error(`${where}: ${arch.features.length} feature stages but ${arch.kernels.length} kernels`);
    }
    for (const k of arch.kernels) {
      if (k.some((v) => v !== 1 && v !== 3)) throw new Error(`${where}: kernel [${k.join(', ')}] is not supported (each axis 1 or 3)`);
    }
  }
  for (const f of arch.features) {
    if (!Number.isInteger(f) || f < 1) throw new Error(`${where}: feature counts must be positive integers`);
  }
  const total = totalStride(arch);
  arch.patch.forEach((p, axis) => {
    if (p % total[axis] !== 0) {
      throw new Error(
        `${where}: patch [${arch.patch.join(', ')}] is not divisible by the total stride [${total.join(', ')}] on axis ${axis}`,
      );
    }
  });
}

/** Product of the strides per axis: input sizes must be multiples of it. */
export function totalStride(arch: ArchitectureSpec): Vec3 {
  const t: Vec3 = [1, 1, 1];
  for (const s of arch.strides) for (let a = 0; a < 3; a++) t[a] *= s[a];
  return t;
}

/**
 * Number of outputs: one per decoder stage (n - 1 for n stages; 1 for a single-stage network)
 * with deep supervision, else 1.
 */
export function outputCount(arch: ArchitectureSpec): number {
  return arch.deepSupervision ? Math.max(1, arch.features.length - 1) : 1;
}

/**
 * Per output k (k = 0 full resolution), the cumulative stride of its resolution relative to the input:
 * the product of `strides[0..k]` per axis.
 */
export function outputStrides(arch: ArchitectureSpec): Vec3[] {
  const out: Vec3[] = [];
  const t: Vec3 = [1, 1, 1];
  for (let k = 0; k < outputCount(arch); k++) {
    for (let a = 0; a < 3; a++) t[a] *= arch.strides[k][a];
    out.push([...t] as Vec3);
  }
  return out;
}

/** Convolution kernel of stage i: the architecture's `kernels[i]`, else 3x3x3. */
export function stageKernel(arch: ArchitectureSpec, i: number): Vec3 {
  return arch.kernels?.[i] ?? [3, 3, 3];
}

/** Kernel of decoder stage i's convolutions (its own stage's, or with `decoderKernels: deeper` the next deeper stage's). */
export function decoderKernel(arch: ArchitectureSpec, i: number): Vec3 {
  return stageKernel(arch, layersOf(arch).decoderKernels === 'deeper' ? i + 1 : i);
}

function convParams(prefix: string, normPrefix: string, cin: number, cout: number, k: Vec3, bias = true): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [k[0], k[1], k[2], cin, cout], role: 'weight', fanIn: k[0] * k[1] * k[2] * cin },
    ...(bias ? [{ name: `${prefix}.bias`, shape: [cout], role: 'bias' as const, fanIn: 0 }] : []),
    { name: `${normPrefix}.scale`, shape: [cout], role: 'scale', fanIn: 0 },
    { name: `${normPrefix}.offset`, shape: [cout], role: 'offset', fanIn: 0 },
  ];
}

/** True when residual block j of stage i changes the stride or the channel count (its skip is not the identity). */
export function blockNeedsSkip(arch: ArchitectureSpec, i: number, j: number): boolean {
  if (j > 0) return false;
  const cin = i === 0 ? arch.features[0] : arch.features[i - 1];
  return cin !== arch.features[i] || arch.strides[i].some((s) => s !== 1);
}

/** Whether block j of stage i has a skip convolution (`skip.*`): mtc's whenever the skip is not the identity, nnU-Net v2's only where the channels change. */
export function blockHasSkipConv(arch: ArchitectureSpec, i: number, j: number): boolean {
  if (!blockNeedsSkip(arch, i, j)) return false;
  if (layersOf(arch).residualSkip === 'strided_conv') return true;
  return (i === 0 ? arch.features[0] : arch.features[i - 1]) !== arch.features[i];
}

function residualEncoderParams(arch: ArchitectureSpec): ParamSpec[] {
  const layers = layersOf(arch);
  const specs = convParams('stem.conv', 'stem.norm', 1, arch.features[0], stageKernel(arch, 0), layers.convBias);
  arch.features.forEach((f, i) => {
    const k = stageKernel(arch, i);
    const blocks = arch.blocksPerStage?.[i] ?? 1;
    for (let j = 0; j < blocks; j++) {
      const p = `enc${i}.block${j}`;
      const cin = j > 0 ? f : i === 0 ? arch.features[0] : arch.features[i - 1];
      specs.push(...convParams(`${p}.conv1`, `${p}.norm1`, cin, f, k, layers.convBias));
      const second = convParams(`${p}.conv2`, `${p}.norm2`, f, f, k, layers.convBias);
      second.find((x) => x.role === 'scale')!.zeroInit = true;
      specs.push(...second);
      if (blockHasSkipConv(arch, i, j)) specs.push(...convParams(`${p}.skip`, `${p}.skip_norm`, cin, f, [1, 1, 1], layers.residualSkip === 'strided_conv'));
    }
  });
  return specs;
}

/** The network's parameters in a fixed order (initialisation and checkpoints follow it). */
export function parameterSpecs(arch: ArchitectureSpec, numHeads: number): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const n = arch.features.length;
  const layers = layersOf(arch);
  if (arch.kind === 'resenc_unet') {
    specs.push(...residualEncoderParams(arch));
  } else {
    let cin = 1;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < arch.convsPerStage; j++) {
        specs.push(...convParams(`enc${i}.conv${j}`, `enc${i}.norm${j}`, j === 0 ? cin : arch.features[i], arch.features[i], stageKernel(arch, i), layers.convBias));
      }
      cin = arch.features[i];
    }
  }
  for (let i = n - 2; i >= 0; i--) {
    const s = arch.strides[i + 1];
    const f = arch.features[i];
    // fan-in of a kernel=stride transposed conv output voxel: the in-channels of the one input voxel.
    specs.push({ name: `dec${i}.up.weight`, shape: [s[0], s[1], s[2], f, arch.features[i + 1]], role: 'weight', fanIn: arch.features[i + 1] });
    if (layers.upsampleBias) specs.push({ name: `dec${i}.up.bias`, shape: [f], role: 'bias', fanIn: 0 });
    for (let j = 0; j < arch.convsPerStage; j++) {
      specs.push(...convParams(`dec${i}.conv${j}`, `dec${i}.norm${j}`, j === 0 ? 2 * f : f, f, decoderKernel(arch, i), layers.convBias));
    }
  }
  specs.push({ name: `${HEAD_PREFIX}weight`, shape: [1, 1, 1, arch.features[0], numHeads], role: 'weight', fanIn: arch.features[0] });
  if (layers.headBias) specs.push({ name: `${HEAD_PREFIX}bias`, shape: [numHeads], role: 'bias', fanIn: 0 });
  // Deep-supervision heads come last, so the other parameters (and their seeded initial values) are
  // the same with and without deep supervision.
  for (let k = 1; k < outputCount(arch); k++) {
    const f = arch.features[k];
    specs.push({ name: `${outputHeadPrefix(k)}weight`, shape: [1, 1, 1, f, numHeads], role: 'weight', fanIn: f });
    if (layers.headBias) specs.push({ name: `${outputHeadPrefix(k)}bias`, shape: [numHeads], role: 'bias', fanIn: 0 });
  }
  return specs;
}

/** The plain and residual-encoder U-Nets (registered as `unet` and `resenc_unet` in registry.ts). */
export class UNet extends ParamNetwork {
  private readonly padding: 'end' | 'symmetric';
  private readonly residualSkip: 'strided_conv' | 'avgpool_conv';

  private constructor(arch: ArchitectureSpec, heads: HeadSpec[], values: ParamValues) {
    validateArchitecture(arch);
    super(arch, heads, parameterSpecs(arch, heads.length), values);
    const layers = layersOf(arch);
    this.padding = layers.padding;
    this.residualSkip = layers.residualSkip;
  }

  /** A freshly initialised network (He normal, seeded). */
  static create(arch: ArchitectureSpec, heads: HeadSpec[], seed: number): UNet {
    return new UNet(arch, heads, seededValues(seed));
  }

  /** A network with the given weights; every parameter must be present with its exact size. */
  static fromWeights(arch: ArchitectureSpec, heads: HeadSpec[], weights: ReadonlyMap<string, Float32Array>): UNet {
    return new UNet(arch, heads, givenValues(weights));
  }

  /** conv (prefix.weight/bias) + InstanceNorm (normPrefix.scale/offset) + LeakyReLU with `slope` (1: none). */
  private unit(x: tf.Tensor5D, prefix: string, normPrefix: string, stride: Vec3, slope = LEAKY_RELU_SLOPE): tf.Tensor5D {
    return convUnit(
      x,
      this.p(`${prefix}.weight`),
      this.bias(`${prefix}.bias`),
      this.p(`${normPrefix}.scale`),
      this.p(`${normPrefix}.offset`),
      stride,
      slope,
      this.padding,
    );
  }

  /** Encoder stage i of the residual encoder: its residual blocks, the first strided. */
  private residualStage(x: tf.Tensor5D, i: number): tf.Tensor5D {
    const arch = this.architecture;
    let h = x;
    for (let j = 0; j < (arch.blocksPerStage?.[i] ?? 1); j++) {
      const p = `enc${i}.block${j}`;
      const stride: Vec3 = j === 0 ? arch.strides[i] : [1, 1, 1];
      const inner = this.unit(this.unit(h, `${p}.conv1`, `${p}.norm1`, stride), `${p}.conv2`, `${p}.norm2`, [1, 1, 1], 1);
      let skip = h;
      if (blockNeedsSkip(arch, i, j)) {
        if (this.residualSkip === 'strided_conv') skip = this.unit(h, `${p}.skip`, `${p}.skip_norm`, stride, 1);
        else {
          skip = blockAverage(h, stride);
          if (blockHasSkipConv(arch, i, j)) skip = this.unit(skip, `${p}.skip`, `${p}.skip_norm`, [1, 1, 1], 1);
        }
      }
      const next = residualAct(inner, skip);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }

  private stage(x: tf.Tensor5D, prefix: string, firstStride: Vec3): tf.Tensor5D {
    let y = x;
    for (let j = 0; j < this.architecture.convsPerStage; j++) {
      const next = this.unit(y, `${prefix}.conv${j}`, `${prefix}.norm${j}`, j === 0 ? firstStride : [1, 1, 1]);
      if (y !== x) y.dispose();
      y = next;
    }
    return y;
  }

  protected forward(x: tf.Tensor5D, all: boolean): tf.Tensor5D[] {
    if (this.disposed) throw new Error('model has been disposed');
    const arch = this.architecture;
    const total = totalStride(arch);
    if (x.rank !== 5 || x.shape[4] !== 1) throw new Error(`model input must be [B, z, y, x, 1], got [${x.shape.join(', ')}]`);
    for (let a = 0; a < 3; a++) {
      if (x.shape[1 + a] % total[a] !== 0) {
        throw new Error(`input spatial size [${x.shape.slice(1, 4).join(', ')}] is not a multiple of the total stride [${total.join(', ')}]`);
      }
    }
    return tf.tidy(() => {
      const n = arch.features.length;
      const skips: tf.Tensor5D[] = [];
      let h = x;
      if (arch.kind === 'resenc_unet') h = this.unit(h, 'stem.conv', 'stem.norm', [1, 1, 1]);
      for (let i = 0; i < n; i++) {
        h = arch.kind === 'resenc_unet' ? this.residualStage(h, i) : this.stage(h, `enc${i}`, arch.strides[i]);
        skips.push(h);
      }
      const outputs = all ? outputCount(arch) : 1;
      const extra: tf.Tensor5D[] = [];
      for (let i = n - 2; i >= 0; i--) {
        const up = upsample(h, this.p(`dec${i}.up.weight`), this.bias(`dec${i}.up.bias`), arch.strides[i + 1]);
        h = this.stage(concatChannels(up, skips[i]), `dec${i}`, [1, 1, 1]);
        if (i >= 1 && i < outputs) extra.unshift(pointwise(h, this.p(`${outputHeadPrefix(i)}weight`), this.bias(`${outputHeadPrefix(i)}bias`)));
      }
      return [pointwise(h, this.p(`${HEAD_PREFIX}weight`), this.bias(`${HEAD_PREFIX}bias`)), ...extra];
    });
  }
}
