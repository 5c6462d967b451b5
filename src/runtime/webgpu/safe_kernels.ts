// Wrappers, registered in tfjs's kernel registry for backend 'webgpu', that keep tfjs-webgpu 4.22's
// own kernels out of the configurations it gets wrong. On an NVIDIA driver those generate invalid
// WGSL or pipelines and the work is silently skipped; the software adapter tolerates some of them.
//
//   - binary ops of rank >= 5 (broadcasting ones compile to invalid WGSL): axes that broadcast alike
//     are merged, which brings every case the runtime meets to rank <= 4;
//   - Select (Where) past rank 4, which tfjs rejects (LeakyReLU's gradient uses it): flattened;
//   - Reverse and StridedSlice of rank 5 (invalid WGSL): one axis at a time on a rank-3 view;
//   - AddN of more inputs than the device's storage-buffer limit (an invalid pipeline and a silent
//     0): summed in chunks;
//   - Transpose past rank 6 (unsupported): runs of axes that stay together are merged;
//   - PadV2 and Slice of rank 5 (invalid WGSL; PyTorch-style padding of imported networks and its
//     gradient): an axis the op leaves whole merges into the axis before it, which brings the
//     runtime's cases to rank <= 4; others go one axis at a time on rank-3 views.
//
// Views are TensorInfos sharing the input's data with another shape, as tfjs's own Reshape kernel
// makes them; intermediate results are released at once. Gradients are unaffected: the engine
// records the op under its own name with the caller's shapes.
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];

interface BackendLike {
  disposeData(dataId: object): void;
  incRef(dataId: object): void;
  device?: { limits?: { maxStorageBuffersPerShaderStage?: number } };
}

/** Observer of every call forwarded to tfjs's own kernels (tests audit the configurations). */
export type ForwardObserver = (kernel: string, inputs: Info[], attrs: Record<string, unknown>) => void;
let observer: ForwardObserver | undefined;

/** Installs (or, with undefined, removes) the observer of forwarded calls. */
export function observeForwardedKernels(fn: ForwardObserver | undefined): void {
  observer = fn;
}

const BINARY_OPS = [
  'Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow', 'FloorDiv', 'Mod',
  'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'Atan2', 'Prelu',
] as const;

function view(t: Info, shape: number[]): Info {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function single(out: Info | Info[]): Info {
  return Array.isArray(out) ? out[0] : out;
}

function forward(original: tf.KernelConfig, args: KernelArgs, inputs: Record<string, Info>, attrs: Record<string, unknown> = args.attrs as Record<string, unknown>): Info {
  observer?.(original.kernelName, Object.values(inputs), attrs);
  return single(original.kernelFunc({ ...args, inputs, attrs: attrs as tf.NamedAttrMap }) as Info | Info[]);
}

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/**
 * The broadcast of `shapes` to `out` on fewest axes: adjacent axes merge when every input is
 * broadcast on both or on neither. Returns the merged input shapes and output shape.
 */
export function mergeBroadcastAxes(shapes: readonly (readonly number[])[], out: readonly number[]): { inputs: number[][]; out: number[] } {
  const r = out.length;
  const padded = shapes.map((s) => [...new Array<number>(r - s.length).fill(1), ...s]);
  const groups: number[][] = [];
  let pattern = '';
  for (let a = 0; a < r; a++) {
    if (out[a] === 1) continue; // size-1 axes vanish
    const p = padded.map((s) => (s[a] === 1 ? 'b' : 'f')).join('');
    if (groups.length > 0 && p === pattern) groups[groups.length - 1].push(a);
    else groups.push([a]);
    pattern = p;
  }
  if (groups.length === 0) return { inputs: shapes.map(() => [1]), out: [1] };
  return {
    inputs: padded.map((s) => groups.map((g) => product(g.map((a) => s[a])))),
    out: groups.map((g) => product(g.map((a) => out[a]))),
  };
}

function binaryWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (outShape.length < 5) return forward(original, args, { a, b });
    const merged = mergeBroadcastAxes([a.shape, b.shape], outShape);
    if (merged.out.length > 4) return forward(original, args, { a, b });
    const out = forward(original, args, { a: view(a, merged.inputs[0]), b: view(b, merged.inputs[1]) });
    return view(out, outShape);
  };
}

function selectWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { condition, t, e } = args.inputs as { condition: Info; t: Info; e: Info };
    const same = condition.shape.join(',') === t.shape.join(',') && t.shape.join(',') === e.shape.join(',');
    if (t.shape.length <= 4 || !same) return forward(original, args, { condition, t, e });
    const n = [product(t.shape)];
    return view(forward(original, args, { condition: view(condition, n), t: view(t, n), e: view(e, n) }), t.shape);
  };
}

/** Runs `steps` in sequence on rank-3 views, releasing every intermediate result. */
function chain(backend: BackendLike, x: Info, steps: ((cur: Info) => Info)[]): Info {
  let cur = x;
  for (const step of steps) {
    const next = step(cur);
    if (cur !== x) backend.disposeData(cur.dataId);
    cur = next;
  }
  if (cur === x) backend.incRef(x.dataId); // a result sharing the input's data, as Reshape returns it
  return cur === x ? view(x, x.shape) : cur;
}

function aroundAxis(shape: readonly number[], axis: number): [number, number, number] {
  return [product(shape.slice(0, axis)), shape[axis], product(shape.slice(axis + 1))];
}

function reverseWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    if (x.shape.length <= 4) return forward(original, args, { x });
    const rank = x.shape.length;
    const raw = (args.attrs as { dims?: number | number[] }).dims ?? [];
    const dims = [...new Set((Array.isArray(raw) ? raw : [raw]).map((d) => (d < 0 ? d + rank : d)))];
    const backend = args.backend as unknown as BackendLike;
    const out = chain(
      backend,
      x,
      dims.map((axis) => (cur: Info) => view(forward(original, args, { x: view(cur, aroundAxis(x.shape, axis)) }, { dims: [1] }), x.shape)),
    );
    return out;
  };
}

function stridedSliceWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const at = args.attrs as unknown as tf.StridedSliceAttrs;
    const rank = x.shape.length;
    const masks = [at.beginMask, at.endMask, at.ellipsisMask, at.newAxisMask, at.shrinkAxisMask].some((m) => m);
    const plain = !masks && at.begin.length === rank && at.end.length === rank && at.strides.length === rank && at.strides.every((s) => s > 0);
    if (rank < 5 || !plain) return forward(original, args, { x });
    const backend = args.backend as unknown as BackendLike;
    const shape = [...x.shape];
    const steps: ((cur: Info) => Info)[] = [];
    for (let axis = 0; axis < rank; axis++) {
      const n = shape[axis];
      const b = Math.min(Math.max(at.begin[axis] < 0 ? at.begin[axis] + n : at.begin[axis], 0), n);
      const e = Math.min(Math.max(at.end[axis] < 0 ? at.end[axis] + n : at.end[axis], 0), n);
      const s = at.strides[axis];
      if (b === 0 && e === n && s === 1) continue;
      const [before, , after] = aroundAxis(shape, axis);
      const kept = Math.max(0, Math.ceil((e - b) / s));
      const inShape = [...shape];
      shape[axis] = kept;
      const outShape = [...shape];
      steps.push((cur) => {
        const attrs = { begin: [0, b, 0], end: [before, e, after], strides: [1, s, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 };
        return view(forward(original, args, { x: view(cur, aroundAxis(inShape, axis)) }, attrs), outShape);
      });
    }
    return chain(backend, x, steps);
  };
}

function addNWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const inputs = (Array.isArray(args.inputs) ? args.inputs : Object.values(args.inputs)) as Info[];
    const backend = args.backend as unknown as BackendLike;
    // inputs and the output each take a storage buffer
    const limit = Math.max(2, (backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
    const sum = (xs: Info[]): Info => {
      if (xs.length <= limit) return forward(original, args, xs as unknown as Record<string, Info>);
      const partials: Info[] = [];
      for (let i = 0; i < xs.length; i += limit) partials.push(sum(xs.slice(i, i + limit)));
      try {
        return sum(partials);
      } finally {
        for (const p of partials) backend.disposeData(p.dataId);
      }
    };
    return sum(inputs);
  };
}

/** Merges runs of axes that a permutation keeps adjacent and in order. */
export function mergeTransposeAxes(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const runs: number[][] = [];
  for (const p of perm) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] + 1 === p) last.push(p);
    else runs.push([p]);
  }
  const order = [...runs].sort((u, v) => u[0] - v[0]);
  return { shape: order.map((r) => product(r.map((a) => shape[a]))), perm: runs.map((r) => order.indexOf(r)) };
}

function transposeWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const perm = (args.attrs as { perm: number[] }).perm;
    if (x.shape.length <= 6) return forward(original, args, { x });
    const merged = mergeTransposeAxes(x.shape, perm);
    if (merged.perm.length > 6) return forward(original, args, { x });
    const out = forward(original, args, { x: view(x, merged.shape) }, { perm: merged.perm });
    return view(out, perm.map((p) => x.shape[p]));
  };
}

/**
 * Merges every axis that `whole(a)` leaves untouched into the axis before it (its extent scaling
 * that axis's parameters, as the data stays contiguous), and leading untouched axes together.
 */
export function mergeUntouchedAxes(shape: readonly number[], params: readonly (readonly [number, number])[], whole: (a: number) => boolean): { shape: number[]; params: [number, number][] } {
  const outShape: number[] = [];
  const outParams: [number, number][] = [];
  shape.forEach((n, a) => {
    if (whole(a) && outShape.length > 0) {
      const last = outShape.length - 1;
      outShape[last] *= n;
      outParams[last] = [outParams[last][0] * n, outParams[last][1] * n];
      return;
    }
    outShape.push(n);
    outParams.push([params[a][0], params[a][1]]);
  });
  return { shape: outShape, params: outParams };
}

function padWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const at = args.attrs as unknown as { paddings: [number, number][]; constantValue: number };
    if (x.shape.length <= 4) return forward(original, args, { x });
    const merged = mergeUntouchedAxes(x.shape, at.paddings, (a) => at.paddings[a][0] === 0 && at.paddings[a][1] === 0);
    const outShape = x.shape.map((n, a) => n + at.paddings[a][0] + at.paddings[a][1]);
    if (merged.shape.length <= 4) {
      return view(forward(original, args, { x: view(x, merged.shape) }, { ...at, paddings: merged.params }), outShape);
    }
    const backend = args.backend as unknown as BackendLike;
    const shape = [...x.shape];
    const steps: ((cur: Info) => Info)[] = [];
    for (let axis = 0; axis < shape.length; axis++) {
      const [lo, hi] = at.paddings[axis];
      if (lo === 0 && hi === 0) continue;
      const around = aroundAxis(shape, axis);
      shape[axis] += lo + hi;
      const next = [...shape];
      steps.push((cur) => view(forward(original, args, { x: view(cur, around) }, { ...at, paddings: [[0, 0], [lo, hi], [0, 0]] }), next));
    }
    return chain(backend, x, steps);
  };
}

function sliceWrapper(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const at = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const rank = x.shape.length;
    if (rank <= 4) return forward(original, args, { x });
    const begin = Array.isArray(at.begin) ? at.begin : x.shape.map(() => at.begin as number);
    const size = (Array.isArray(at.size) ? at.size : x.shape.map(() => at.size as number)).map((s, a) => (s < 0 ? x.shape[a] - begin[a] : s));
    const params = x.shape.map((_, a): [number, number] => [begin[a], size[a]]);
    const merged = mergeUntouchedAxes(x.shape, params, (a) => begin[a] === 0 && size[a] === x.shape[a]);
    if (merged.shape.length <= 4) {
      return view(forward(original, args, { x: view(x, merged.shape) }, { begin: merged.params.map((p) => p[0]), size: merged.params.map((p) => p[1]) }), size);
    }
    const backend = args.backend as unknown as BackendLike;
    const shape = [...x.shape];
    const steps: ((cur: Info) => Info)[] = [];
    for (let axis = 0; axis < rank; axis++) {
      if (begin[axis] === 0 && size[axis] === shape[axis]) continue;
      const around = aroundAxis(shape, axis);
      shape[axis] = size[axis];
      const next = [...shape];
      const [b, s] = [begin[axis], size[axis]];
      steps.push((cur) => view(forward(original, args, { x: view(cur, around) }, { begin: [0, b, 0], size: [around[0], s, around[2]] }), next));
    }
    return chain(backend, x, steps);
  };
}

/** The wrapped kernel configs (built from the kernels registered when called). */
export function makeSafeWebGpuKernels(original: (name: string) => tf.KernelConfig | undefined): tf.KernelConfig[] {
  const wrap = (name: string, make: (o: tf.KernelConfig) => tf.KernelFunc): tf.KernelConfig[] => {
    const o = original(name);
    return o ? [{ kernelName: name, backendName: 'webgpu', kernelFunc: make(o) }] : [];
  };
  return [
    ...BINARY_OPS.flatMap((name) => wrap(name, binaryWrapper)),
    ...wrap('Select', selectWrapper),
    ...wrap('Reverse', reverseWrapper),
    ...wrap('StridedSlice', stridedSliceWrapper),
    ...wrap('AddN', addNWrapper),
    ...wrap('Transpose', transposeWrapper),
    ...wrap('PadV2', padWrapper),
    ...wrap('Slice', sliceWrapper),
  ];
}
