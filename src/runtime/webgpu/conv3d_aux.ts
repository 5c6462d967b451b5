// Small helper programs of the conv3d kernels: the split-K sum and the filter transpose.

import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

const WORKGROUP = 256;

/**
 * Split-K sum: out[gemmOutRow(r), c] = sum over s = 0..splits-1 of partial[s, r, c], always in that
 * order (deterministic, no atomics). `header` defines gemmOutRow (a GemmSource's header: identity, or
 * the voxel map of an input-gradient stride phase, which then writes its rows of a shared dx).
 * One vec4 per thread when cols % 4 == 0.
 */
export class SplitSumProgram implements WebGPUProgram {
  variableNames = ['partial'];
  variableComponents: number[];
  outputComponent: number;
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  private readonly splits: number;
  private readonly rowVecs: number;
  private readonly count: number;
  private readonly header: string;

  /** partial is [splits, rows, cols]; `key` names everything baked into `header`. */
  constructor(outputShape: number[], splits: number, rows: number, cols: number, header: string, key: string) {
    this.outputShape = outputShape;
    this.splits = splits;
    this.header = header;
    const vec = cols % 4 === 0 ? 4 : 1;
    this.outputComponent = vec;
    this.variableComponents = [vec];
    this.rowVecs = cols / vec;
    this.count = rows * this.rowVecs;
    // tfjs folds an oversized 1-D dispatch into 2-D/3-D; getGlobalIndex() undoes it.
    this.dispatch = [Math.ceil(this.count / WORKGROUP), 1, 1];
    this.shaderKey = `conv3dSplitSum_${key}_${splits}_${rows}x${cols}_${outputShape.join('x')}`;
  }

  getUserCode(): string {
    return `
${this.header}
fn main(index: i32) {
  _ = uniforms.NAN; // keep tfjs's uniform binding alive (pipeline layout 'auto')
  if (index >= ${this.count}) { return; }
  var s = partial[index];
  for (var i = 1; i < ${this.splits}; i++) {
    s = s + partial[i * ${this.count} + index];
  }
  let row = index / ${this.rowVecs};
  result[gemmOutRow(row) * ${this.rowVecs} + index - row * ${this.rowVecs}] = s;
}`;
  }
}

/** Filter [taps, Cin, Cout] -> [taps, Cout, Cin] (the B operand of the input gradient). */
export class FilterTransposeProgram implements WebGPUProgram {
  variableNames = ['W'];
  variableComponents = [1];
  outputComponent = 1;
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  private readonly inC: number;
  private readonly outC: number;
  private readonly total: number;

  /** `filterShape` = [kd, kh, kw, Cin, Cout]. */
  constructor(filterShape: number[]) {
    const [kd, kh, kw, inC, outC] = filterShape;
    this.inC = inC;
    this.outC = outC;
    this.outputShape = [kd, kh, kw, outC, inC];
    this.total = kd * kh * kw * inC * outC;
    this.dispatch = [Math.ceil(this.total / WORKGROUP), 1, 1];
    this.shaderKey = `conv3dFilterT_${this.total}_${inC}_${outC}`;
  }

  getUserCode(): string {
    return `
fn main(index: i32) {
  _ = uniforms.NAN; // keep tfjs's uniform binding alive (pipeline layout 'auto')
  if (index >= ${this.total}) { return; }
  let ci = index % ${this.inC};
  let r = index / ${this.inC};
  let co = r % ${this.outC};
  let tap = r / ${this.outC};
  result[index] = W[(tap * ${this.inC} + ci) * ${this.outC} + co];
}`;
  }
}
