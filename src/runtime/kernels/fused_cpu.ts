// Host kernels of the fused ops (the names in ./fused_names.ts) for the backends whose tensors live
// in JavaScript memory ('cpu', and 'wasm', whose synchronous reads copy): each reads its inputs'
// values, runs the host passes (./host_ops.ts, ./layout_ops.ts: native when the addon is built,
// JavaScript otherwise) and returns new tensors. The ops and their gradients are defined once in
// model/fused.ts and loss/fused.ts; argument checks happen there, before the kernel runs.
import * as tf from '@tensorflow/tfjs';
import { normActBackward, normActForward } from './host_ops.js';
import {
  addBiasHost, columnSumsHost, concatChannelsHost, depthToSpaceBiasGradHost, depthToSpaceBiasHost,
  residualActGradHost, residualActHost, splitChannelsHost,
} from './layout_ops.js';
import {
  ADD_BIAS, BIAS_NORM_ACT, BIAS_NORM_ACT_GRAD, COLUMN_SUMS, CONCAT_CHANNELS, DEPTH_TO_SPACE_BIAS, DEPTH_TO_SPACE_BIAS_GRAD,
  RESIDUAL_ACT, RESIDUAL_ACT_GRAD, SPLIT_CHANNELS, UPSAMPLE_FILTER, UPSAMPLE_FILTER_GRAD,
  type BiasNormActAttrs, type DepthToSpaceAttrs, type ResidualActAttrs, type SplitChannelsAttrs, type UpsampleFilterGradAttrs,
} from './fused_names.js';

/** The backends the host kernels are registered for. */
export const HOST_BACKENDS = ['cpu', 'wasm'] as const;

/** An input of a host kernel: its float32 values (a copy only when stored as another type) and shape. */
export interface HostTensor {
  values: Float32Array;
  shape: number[];
}

/** An output: values (the kernel's own array, taken over without a copy on 'cpu') and shape. */
export type HostOutput = HostTensor;

interface HostBackend {
  readSync(dataId: object): unknown;
  write(values: Float32Array, shape: number[], dtype: 'float32'): object;
}

export type HostFn = (inputs: Record<string, HostTensor>, attrs: Record<string, unknown>) => HostOutput[];

function toF32(v: unknown): Float32Array {
  if (v instanceof Float32Array) return v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Float32Array.from(v as ArrayLike<number>);
  throw new Error('fused host kernel: input values are not numeric');
}

/** Kernel configs of `fn` for every host backend. */
export function hostKernelConfigs(kernelName: string, fn: HostFn): tf.KernelConfig[] {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as unknown as HostBackend;
    const ins: Record<string, HostTensor> = {};
    for (const [name, info] of Object.entries(inputs)) {
      if (info) ins[name] = { values: toF32(b.readSync(info.dataId)), shape: info.shape };
    }
    const outs = fn(ins, (attrs ?? {}) as Record<string, unknown>).map(
      (o): tf.TensorInfo => ({ dataId: b.write(o.values, o.shape, 'float32'), shape: o.shape, dtype: 'float32' }),
    );
    return outs.length === 1 ? outs[0] : outs;
  };
  return HOST_BACKENDS.map((backendName) => ({ kernelName, backendName, kernelFunc }));
}

/** Registers configs, replacing an earlier registration of the same name and backend. */
export function registerKernels(configs: readonly tf.KernelConfig[]): void {
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, c.backendName)) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
}

/** [B, D, H, W, C] -> the [B, N, C] sizes of the host passes. */
export function hostDims(shape: number[]): { B: number; N: number; C: number } {
  const [B, D, H, W, C] = shape;
  return { B, N: D * H * W, C };
}

const dims5 = hostDims;

const biasNormAct: HostFn = ({ x, scale, offset }, attrs) => {
  const { eps, slope } = attrs as unknown as BiasNormActAttrs;
  const d = dims5(x.shape);
  const f = normActForward(x.values, scale.values, offset.values, d, eps, slope);
  // stats [B, 2, C]: mean then rstd per sample.
  const stats = new Float32Array(2 * d.B * d.C);
  for (let b = 0; b < d.B; b++) {
    stats.set(f.mean.subarray(b * d.C, (b + 1) * d.C), 2 * b * d.C);
    stats.set(f.rstd.subarray(b * d.C, (b + 1) * d.C), (2 * b + 1) * d.C);
  }
  return [{ values: f.y, shape: x.shape }, { values: stats, shape: [d.B, 2, d.C] }];
};

const biasNormActGrad: HostFn = ({ dy, x, y, scale, stats }, attrs) => {
  const { slope } = attrs as unknown as BiasNormActAttrs;
  const d = dims5(x.shape);
  const mean = new Float32Array(d.B * d.C);
  const rstd = new Float32Array(d.B * d.C);
  for (let b = 0; b < d.B; b++) {
    mean.set(stats.values.subarray(2 * b * d.C, (2 * b + 1) * d.C), b * d.C);
    rstd.set(stats.values.subarray((2 * b + 1) * d.C, (2 * b + 2) * d.C), b * d.C);
  }
  const g = normActBackward(x.values, { y: y.values, mean, rstd }, dy.values, scale.values, d, slope);
  const C = [d.C];
  return [{ values: g.dx, shape: x.shape }, { values: g.dbias, shape: C }, { values: g.dscale, shape: C }, { values: g.doffset, shape: C }];
};

const concat: HostFn = ({ a, b }) => {
  const Ca = a.shape[a.shape.length - 1];
  const Cb = b.shape[b.shape.length - 1];
  const n = a.values.length / Ca;
  return [{ values: concatChannelsHost(a.values, b.values, n, Ca, Cb), shape: [...a.shape.slice(0, -1), Ca + Cb] }];
};

const split: HostFn = ({ dy }, attrs) => {
  const { channels: Ca } = attrs as unknown as SplitChannelsAttrs;
  const C = dy.shape[dy.shape.length - 1];
  const n = dy.values.length / C;
  const [ga, gb] = splitChannelsHost(dy.values, n, Ca, C - Ca);
  const lead = dy.shape.slice(0, -1);
  return [{ values: ga, shape: [...lead, Ca] }, { values: gb, shape: [...lead, C - Ca] }];
};

const addBias: HostFn = ({ x, bias }) => {
  const C = x.shape[x.shape.length - 1];
  return [{ values: addBiasHost(x.values, bias.values, x.values.length / C, C), shape: x.shape }];
};

const columnSums: HostFn = ({ x }) => {
  const C = x.shape[x.shape.length - 1];
  return [{ values: columnSumsHost(x.values, x.values.length / C, C), shape: [C] }];
};

const depthToSpace: HostFn = ({ x, bias }, attrs) => {
  const [sz, sy, sx] = (attrs as unknown as DepthToSpaceAttrs).stride;
  const [B, D, H, W, K] = x.shape;
  const C = K / (sz * sy * sx);
  return [{ values: depthToSpaceBiasHost(x.values, bias.values, { B, D, H, W, sz, sy, sx, C }), shape: [B, D * sz, H * sy, W * sx, C] }];
};

const depthToSpaceGrad: HostFn = ({ dy }, attrs) => {
  const [sz, sy, sx] = (attrs as unknown as DepthToSpaceAttrs).stride;
  const [B, OD, OH, OW, C] = dy.shape;
  const d = { B, D: OD / sz, H: OH / sy, W: OW / sx, sz, sy, sx, C };
  const g = depthToSpaceBiasGradHost(dy.values, d);
  return [{ values: g.dx, shape: [B, d.D, d.H, d.W, sz * sy * sx * C] }, { values: g.dbias, shape: [C] }];
};

// w[(t*cout + co)*cin + ci] <-> f[ci*kc + t*cout + co], kc = taps * cout.
function moveUpsampleFilter(src: Float32Array, taps: number, cout: number, cin: number, toFilter: boolean): Float32Array {
  const kc = taps * cout;
  const dst = new Float32Array(src.length);
  for (let tc = 0; tc < kc; tc++)
    for (let ci = 0; ci < cin; ci++) {
      if (toFilter) dst[ci * kc + tc] = src[tc * cin + ci];
      else dst[tc * cin + ci] = src[ci * kc + tc];
    }
  return dst;
}

const upsampleFilter: HostFn = ({ weight }) => {
  const [sz, sy, sx, cout, cin] = weight.shape;
  const taps = sz * sy * sx;
  return [{ values: moveUpsampleFilter(weight.values, taps, cout, cin, true), shape: [1, 1, 1, cin, taps * cout] }];
};

const upsampleFilterGrad: HostFn = ({ dy }, attrs) => {
  const { weightShape } = attrs as unknown as UpsampleFilterGradAttrs;
  const [sz, sy, sx, cout, cin] = weightShape;
  return [{ values: moveUpsampleFilter(dy.values, sz * sy * sx, cout, cin, false), shape: [...weightShape] }];
};

const residualAct: HostFn = ({ a, b }, attrs) => [{ values: residualActHost(a.values, b.values, (attrs as unknown as ResidualActAttrs).slope), shape: a.shape }];

const residualActGrad: HostFn = ({ y, dy }, attrs) => [{ values: residualActGradHost(y.values, dy.values, (attrs as unknown as ResidualActAttrs).slope), shape: y.shape }];

/** The host kernels of the model's fused ops (the loss ops' are in loss/fused.ts). */
export function modelHostKernels(): tf.KernelConfig[] {
  const table: [string, HostFn][] = [
    [BIAS_NORM_ACT, biasNormAct], [BIAS_NORM_ACT_GRAD, biasNormActGrad],
    [CONCAT_CHANNELS, concat], [SPLIT_CHANNELS, split],
    [ADD_BIAS, addBias], [COLUMN_SUMS, columnSums],
    [DEPTH_TO_SPACE_BIAS, depthToSpace], [DEPTH_TO_SPACE_BIAS_GRAD, depthToSpaceGrad],
    [UPSAMPLE_FILTER, upsampleFilter], [UPSAMPLE_FILTER_GRAD, upsampleFilterGrad],
    [RESIDUAL_ACT, residualAct], [RESIDUAL_ACT_GRAD, residualActGrad],
  ];
  return table.flatMap(([name, fn]) => hostKernelConfigs(name, fn));
}
