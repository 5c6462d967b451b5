/**
 * The name mapping from a PyTorch state dict to mtc's parameters (src/runtime/model/unet.ts names
 * them): explicit and complete.
 *
 * Every mtc parameter of the architecture names the one state-dict key it comes from (a `TorchName`
 * function per network class). Then every tensor of the state dict is accounted for: used (mapped
 * to an mtc parameter), an alias (the same tensor under a second name: nnU-Net v2's `all_modules.N`
 * copies and the decoder's `encoder.*` reference; counted once) or refused. A missing key, a tensor of
 * the wrong shape or a tensor no parameter uses is refused, and the message names the key.
 *
 * Layouts: PyTorch's Conv3d weight is [out, in, kz, ky, kx] and ConvTranspose3d's [in, out, sz, sy,
 * sx]; mtc's conv weight is [kz, ky, kx, in, out] and its transposed-conv weight [sz, sy, sx, out,
 * in]. Both are the permutation mtc[a, b, c, d, e] = torch[e, d, a, b, c]. InstanceNorm's weight and
 * bias are mtc's norm scale and offset. PyTorch's spatial axes are nnU-Net's array axes, [z, y, x].
 */
import type { ArchitectureSpec } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import { parameterSpecs, type ParamSpec } from '../model/registry.js';
import { type PyDict, TensorRef } from './pickle.js';
import type { TorchFile } from './torch-file.js';

/** The state-dict key an mtc parameter comes from. */
export type TorchName = (mtcName: string) => string;

export interface MappingEntry {
  mtc: string;
  torch: string;
  /** PyTorch shape. */
  shape: number[];
}

export interface MappingReport {
  /** Every mtc parameter and the key it came from, in mtc's parameter order. */
  used: MappingEntry[];
  /** State-dict keys that name a tensor already used under another key. */
  aliases: { torch: string; of: string }[];
  /** State-dict entries that are not weights the network uses, with the reason. */
  skipped: { torch: string; reason: string }[];
  /** Parameters (elements), each tensor counted once. */
  parameters: number;
  /** Prefixes removed from every key (`module.` of DataParallel, `_orig_mod.` of torch.compile). */
  strippedPrefix: string | null;
}

export interface MappedWeights {
  weights: Map<string, Float32Array>;
  report: MappingReport;
}

/** The PyTorch shape of an mtc parameter (see the module doc). */
export function torchShape(spec: ParamSpec): number[] {
  const s = spec.shape;
  return s.length === 5 ? [s[4], s[3], s[0], s[1], s[2]] : [...s];
}

/** torch [e, d, a, b, c] (C order) -> mtc [a, b, c, d, e] (C order). */
function permuteToMtc(src: Float32Array, torch: number[]): Float32Array {
  const [e, d, a, b, c] = torch;
  const out = new Float32Array(src.length);
  const abc = a * b * c;
  for (let ie = 0; ie < e; ie++) {
    for (let id = 0; id < d; id++) {
      const base = (ie * d + id) * abc;
      for (let k = 0; k < abc; k++) out[(k * d + id) * e + ie] = src[base + k];
    }
  }
  return out;
}

function viewKey(t: TensorRef): string {
  return `${t.storage.key}@${t.offset}:${t.shape.join('x')}/${t.stride.join(',')}`;
}

const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

/**
 * Maps `stateDict` (at `where` inside `file`) onto the parameters of `arch` with `numHeads`
 * outputs; `name` gives each parameter's key.
 */
export function mapStateDict(file: TorchFile, stateDict: PyDict, where: string, arch: ArchitectureSpec, numHeads: number, name: TorchName, network: string): MappedWeights {
  const refuse = (what: string, todo: string): never => {
    throw MtDataError.about(file.path, what, todo);
  };
  const tensors = new Map<string, TensorRef>();
  const skipped: MappingReport['skipped'] = [];
  for (const [k, v] of stateDict) {
    if (typeof k !== 'string') refuse(`${where} has a key that is not a string (${String(k)})`, 'Pass a checkpoint nnU-Net wrote');
    else if (v instanceof TensorRef) tensors.set(k, v);
    else skipped.push({ torch: k, reason: 'not a tensor' });
  }
  let strippedPrefix: string | null = null;
  for (const prefix of WRAPPER_PREFIXES) {
    if (tensors.size > 0 && [...tensors.keys()].every((k) => k.startsWith(prefix))) {
      strippedPrefix = (strippedPrefix ?? '') + prefix;
      const renamed = new Map<string, TensorRef>();
      for (const [k, v] of tensors) renamed.set(k.slice(prefix.length), v);
      tensors.clear();
      for (const [k, v] of renamed) tensors.set(k, v);
    }
  }

  const weights = new Map<string, Float32Array>();
  const used: MappingEntry[] = [];
  const usedViews = new Map<string, string>();
  let parameters = 0;
  for (const spec of parameterSpecs(arch, numHeads)) {
    const key = name(spec.name);
    const t = tensors.get(key);
    const expected = torchShape(spec);
    if (!t) {
      refuse(
        `${where} lacks '${key}' (${network} with these plans has it; mtc parameter '${spec.name}', shape [${expected.join(', ')}])`,
        'The checkpoint does not belong to these plans: pass the plans.json / .model.pkl saved with it',
      );
    } else {
      if (t.shape.join(',') !== expected.join(',')) {
        refuse(
          `${where}: '${key}' has shape [${t.shape.join(', ')}], but ${network} with these plans needs [${expected.join(', ')}] (mtc parameter '${spec.name}')`,
          'The checkpoint does not belong to these plans: pass the plans.json / .model.pkl saved with it',
        );
      }
      if (!['float32', 'float16', 'bfloat16', 'float64'].includes(t.storage.dtype)) {
        refuse(`${where}: '${key}' holds ${t.storage.dtype} values, not floating-point weights`, 'Pass a checkpoint nnU-Net wrote');
      }
      const values = file.tensor(t);
      weights.set(spec.name, expected.length === 5 ? permuteToMtc(values, expected) : values);
      used.push({ mtc: spec.name, torch: key, shape: [...t.shape] });
      usedViews.set(viewKey(t), key);
      parameters += values.length;
    }
  }
  const aliases: MappingReport['aliases'] = [];
  const usedKeys = new Set(used.map((u) => u.torch));
  for (const [k, t] of tensors) {
    if (usedKeys.has(k)) continue;
    const of = usedViews.get(viewKey(t));
    if (of !== undefined) {
      aliases.push({ torch: k, of });
      continue;
    }
    refuse(
      `${where} holds '${k}' [${t.shape.join(', ')}], which no part of ${network} with these plans uses (is the network class or a keyword different from the plans?)`,
      'mtc imports nnU-Net\'s PlainConvUNet, ResidualEncoderUNet and Generic_UNet as the plans describe them; see docs/models.md for what is supported',
    );
  }
  return { weights, report: { used, aliases, skipped, parameters, strippedPrefix } };
}
