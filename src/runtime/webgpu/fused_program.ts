// Running the project's own WGSL compute programs on tfjs's webgpu backend: program objects for
// `WebGPUBackend.runWebGPUProgram`, uniforms, and the wrapping of results as tensors.
//
// Every program here sees its inputs and its output as flat 1-D arrays (the tensors' shapes are
// passed as explicit uniforms). This keeps tfjs's generated helper code (per-input accessors,
// coordinate conversions) trivial: its rank-5 broadcasting helpers produce invalid WGSL in 4.22, and
// flat views sidestep them. The output is re-shaped when wrapped (same data, like tf.reshape).
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/** A program-defined uniform value (order must follow the program's `uniforms` declaration). */
export interface Uniform {
  type: 'int32' | 'float32';
  data: number[];
}

export const i32 = (v: number): Uniform => ({ type: 'int32', data: [v] });
export const f32 = (v: number): Uniform => ({ type: 'float32', data: [v] });

/** Threads per workgroup of the element-wise programs (one element or vec4 per thread). */
export const ELEMENTWISE_WORKGROUP = 256;

export interface KernelSpec {
  /**
   * Pipeline-cache key: must change whenever the generated WGSL does (tfjs adds only ranks, dtypes
   * and variable names to it).
   */
  key: string;
  /** Names of the input arrays (WGSL `var<storage, read>` of the same names). */
  inputs: string[];
  /** Vector width of each input array as seen by the shader (1 or 4); default all 1. */
  components?: number[];
  /** Vector width of the output array `result` (1 or 4). */
  outputComponent?: number;
  /** Output elements (scalars). */
  outputSize: number;
  workgroupSize: [number, number, number];
  /**
   * Workgroups to dispatch. Default: one thread per output vector (outputSize / outputComponent).
   * tfjs folds a count above the per-dimension limit into a 2-D/3-D grid; programs that use their
   * workgroup index compute it with `mt_workgroupIndex()` and treat indices past the count as idle.
   */
  workgroups?: number;
  /** WGSL uniform fields, e.g. `nN : i32, nC : i32,` (values passed to runKernel in this order). */
  uniforms?: string;
  /** WGSL source defining `fn main(index : i32)` and whatever it needs. */
  code: string;
}

/** Linear workgroup index, valid however tfjs folded the dispatch grid. */
export const WORKGROUP_INDEX_WGSL = `
fn mt_workgroupIndex() -> i32 {
  return i32((workgroupId.z * numWorkgroups.y + workgroupId.y) * numWorkgroups.x + workgroupId.x);
}
`;

function makeProgram(spec: KernelSpec): WebGPUProgram {
  const [wx, wy, wz] = spec.workgroupSize;
  const outputComponent = spec.outputComponent ?? 1;
  const workgroups = spec.workgroups ?? Math.ceil(spec.outputSize / outputComponent / (wx * wy * wz));
  const code = spec.code;
  return {
    variableNames: spec.inputs,
    variableComponents: spec.components ?? spec.inputs.map(() => 1),
    outputComponent,
    outputShape: [spec.outputSize],
    shaderKey: `mt_${spec.key}`,
    // A flat layout: tfjs calls main(getGlobalIndex()) and may fold the dispatch into 2-D/3-D.
    dispatchLayout: { x: [0] },
    dispatch: [Math.max(1, workgroups), 1, 1],
    workgroupSize: spec.workgroupSize,
    size: true,
    uniforms: spec.uniforms,
    getUserCode: () => code,
  };
}

/** The active backend as tfjs's WebGPUBackend; throws when another backend is active. */
export function webgpuBackend(): WebGPUBackend {
  const name = tf.getBackend();
  if (name !== 'webgpu') throw new Error(`the WebGPU fused ops need the 'webgpu' backend (active: '${name}')`);
  return tf.backend() as unknown as WebGPUBackend;
}

/** The element type of the GPU buffer behind a tensor (tfjs-webgpu casts int32 -> float32 lazily). */
function bufferType(backend: WebGPUBackend, t: tf.Tensor): tf.DataType {
  return backend.tensorMap.get(t.dataId).dtype;
}

/** result = f32(x): the program's input type follows the buffer's (i32 for int32 and bool). */
function toFloat32Info(backend: WebGPUBackend, t: tf.Tensor): tf.TensorInfo {
  const program = makeProgram({
    key: 'to_f32',
    inputs: ['x'],
    outputSize: t.size,
    workgroupSize: [ELEMENTWISE_WORKGROUP, 1, 1],
    code: `
fn main(index : i32) {
  if (index < uniforms.size) { result[index] = f32(x[index]); }
}
`,
  });
  return backend.runWebGPUProgram(program, [{ dataId: t.dataId, shape: [t.size], dtype: t.dtype }], 'float32');
}

/**
 * `t` with a float32 GPU buffer: itself when it has one, else a converted copy (int32 or bool
 * tensors, including int32 tensors cast to float32, which tfjs-webgpu leaves as int32 buffers).
 */
export function toFloat32(t: tf.Tensor): tf.Tensor {
  const backend = webgpuBackend();
  if (bufferType(backend, t) === 'float32') return t;
  const info = toFloat32Info(backend, t);
  return tf.engine().makeTensorFromTensorInfo({ dataId: info.dataId, shape: t.shape, dtype: 'float32' });
}

/**
 * Runs a program on the GPU (no host read-back) and returns its output as a new float32 tensor of
 * `shape` (whose size must be spec.outputSize). Inputs without a float32 buffer are converted
 * first (a temporary copy).
 */
export function runKernel(spec: KernelSpec, inputs: tf.Tensor[], uniforms: Uniform[], shape: number[]): tf.Tensor {
  const backend = webgpuBackend();
  const temps: tf.TensorInfo[] = [];
  const infos: tf.TensorInfo[] = inputs.map((t, i) => {
    const type = bufferType(backend, t);
    if (type === 'float32') return { dataId: t.dataId, shape: [t.size], dtype: 'float32' };
    if (type !== 'int32' && type !== 'bool') throw new Error(`${spec.key}: input '${spec.inputs[i]}' has dtype ${type}`);
    const info = toFloat32Info(backend, t);
    temps.push(info);
    return info;
  });
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== spec.outputSize) throw new Error(`${spec.key}: output shape [${shape.join(', ')}] does not hold ${spec.outputSize} elements`);
  const out = backend.runWebGPUProgram(makeProgram(spec), infos, 'float32', uniforms);
  // Released once the queued work that reads them has run (tfjs defers buffers still in use).
  for (const info of temps) backend.disposeData(info.dataId);
  return tf.engine().makeTensorFromTensorInfo({ dataId: out.dataId, shape, dtype: 'float32' });
}

/** 4 when every given count is a multiple of 4 (the arrays can be read as vec4), else 1. */
export function vectorWidth(...counts: number[]): 1 | 4 {
  return counts.every((n) => n % 4 === 0) ? 4 : 1;
}

/** WGSL `alias T = ...;` for the element type of a vector width. */
export function elementAlias(v: 1 | 4): string {
  return v === 4 ? 'alias T = vec4<f32>;' : 'alias T = f32;';
}

/** An element-wise program: one thread per output vector of width `v`, every input read at width `v`. */
export interface ElementwiseSpec {
  /** Pipeline-cache key (the vector width is appended). */
  key: string;
  inputs: string[];
  v: 1 | 4;
  /** Output elements (scalars). */
  outputSize: number;
  uniforms: string;
  /** WGSL helpers placed before main. */
  decls?: string[];
  /** main's code for one vector `index` < uniforms.size (`T` is its element type). */
  body: string;
}

/** WGSL of an element-wise program: `T` for its vector width, its helpers, and main guarding `body`. */
function elementwiseWgsl(spec: ElementwiseSpec): string {
  return `
${[elementAlias(spec.v), ...(spec.decls ?? [])].join('\n')}
fn main(index : i32) {
  if (index < uniforms.size) {${spec.body}
  }
}
`;
}

/** runKernel for an element-wise program (see ElementwiseSpec). */
export function runElementwise(spec: ElementwiseSpec, inputs: tf.Tensor[], uniforms: Uniform[], shape: number[]): tf.Tensor {
  return runKernel(
    {
      key: `${spec.key}_v${spec.v}`,
      inputs: spec.inputs,
      components: spec.inputs.map(() => spec.v),
      outputComponent: spec.v,
      outputSize: spec.outputSize,
      workgroupSize: [ELEMENTWISE_WORKGROUP, 1, 1],
      uniforms: spec.uniforms,
      code: elementwiseWgsl(spec),
    },
    inputs,
    uniforms,
    shape,
  );
}

/**
 * WGSL `let`s of an element-wise program over [B, N, C] (uniforms nN, nC): `e`, the first element
 * of the thread's vector of width `v`, its channel `c` and its sample `b`.
 */
export function sampleChannelWgsl(v: 1 | 4): string {
  return `
    let e = index * ${v};
    let c = e % uniforms.nC;
    let b = e / (uniforms.nN * uniforms.nC);`;
}
