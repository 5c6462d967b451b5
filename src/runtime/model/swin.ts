import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, HeadSpec, SwinSpec, Vec3 } from '../../graph/types.js';
import { addBias, biasNormAct, concatChannels } from './fused.js';
import { conv3dPadded, INSTANCE_NORM_EPS, LEAKY_RELU_SLOPE, pointwise, residualAct, upsample } from './layers.js';
import { givenValues, HEAD_PREFIX, ParamNetwork, seededValues, type ParamSpec, type ParamValues } from './network.js';
import { gatherRows, windowAttention, type AttentionTables } from './attention.js';
import { attentionMask, biasTableSize, inverseIndex, relativePositionIndex, shifts, stageGeometry, windowRows, type StageGeometry } from './swin-geometry.js';

/**
 * SwinUNETR as MONAI 1.3 builds it (`monai.networks.nets.SwinUNETR` with `spatial_dims=3`,
 * `use_v2=False`, `norm_name='instance'`, dropout and drop path 0, `normalize=True`,
 * `downsample='merging'`), channels-last [B, z, y, x, C] with one sigmoid output per class:
 *
 * - patch embedding: conv 2x2x2, stride 2, 1 -> F (F = feature size), with bias;
 * - 4 transformer stages l (width C = F * 2^l, depths 2, heads 3/6/12/24): Swin blocks
 *   x + attn(LN(x)), then x + MLP(LN(x)) (ratio 4, exact-erf GELU); window 7 clamped to the axis
 *   where the axis is not larger (shift 0 there), the input padded with zeros to window multiples
 *   after the first LN, odd blocks rolled by -window // 2 with MONAI's attention mask; a
 *   relative-position bias table per block ((2*7-1)^3 rows, indexed `[:n, :n]` as MONAI does for a
 *   clamped window); every stage ends with PatchMerging (MONAI's v0.9 "merging" order of the 8
 *   neighbours, (z, y, x) offsets 000 100 010 001 101 010 001 111: two repeated, as MONAI has them),
 *   LayerNorm(8C) and a linear 8C -> 2C without bias;
 * - the 5 hidden states (embedding and each stage's output) through LayerNorm without affine;
 * - UnetrBasicBlock encoders (UnetResBlock: conv3-IN-LReLU-conv3-IN, + the input or a 1x1x1 conv +
 *   IN where the channels change, LReLU; convs without bias, InstanceNorm without affine) on the
 *   input (1 -> F), hidden states 0, 1, 2 and 4; UnetrUpBlock decoders (transposed conv 2x2x2
 *   without bias, concat [up, skip], UnetResBlock 2C -> C) from hidden state 4 up with skips hidden
 *   state 3 and the encoders; a 1x1x1 output conv with bias.
 *
 * Parameter names (stable; checkpoints and fine-tuning rely on them; MONAI's in brackets):
 *   vit.embed.weight [2,2,2,1,F], vit.embed.bias                      (swinViT.patch_embed.proj)
 *   vit.layer{l}.block{b}.norm1.scale/offset [C]                       (swinViT.layers{l+1}.0.blocks.{b}.norm1)
 *   vit.layer{l}.block{b}.attn.qkv.weight [C, 3C], .qkv.bias [3C]      (...attn.qkv, weight transposed)
 *   vit.layer{l}.block{b}.attn.rel_bias [2197, heads]                  (...attn.relative_position_bias_table)
 *   vit.layer{l}.block{b}.attn.proj.weight [C, C], .proj.bias [C]      (...attn.proj)
 *   vit.layer{l}.block{b}.norm2.scale/offset, .mlp.fc1.weight [C, 4C], .mlp.fc1.bias, .mlp.fc2.weight [4C, C], .mlp.fc2.bias
 *                                                                       (...norm2, ...mlp.linear1, ...mlp.linear2)
 *   vit.layer{l}.merge.norm.scale/offset [8C], vit.layer{l}.merge.reduction.weight [8C, 2C]   (swinViT.layers{l+1}.0.downsample)
 *   enc{e}.conv1.weight [3,3,3,in,out], enc{e}.conv2.weight, enc{e}.conv3.weight [1,1,1,in,out] where in != out
 *     e = 0, 1, 2, 3, 10                                                (encoder1, encoder2, encoder3, encoder4, encoder10)
 *   dec{d}.up.weight [2,2,2,out,in], dec{d}.conv1/conv2/conv3.weight   (decoder{d}.transp_conv, decoder{d}.conv_block), d = 5 .. 1
 *   head.weight [1,1,1,F,heads], head.bias [heads]                      (out.conv.conv)
 *
 * Initialisation: convolutions He normal (as the U-Nets), linear layers and the bias tables
 * normal(0, 0.02) truncated at 2 std (Swin's init), LayerNorm 1 / 0, biases 0.
 */

/** MONAI's LayerNorm eps (nn.LayerNorm, F.layer_norm). */
const LAYER_NORM_EPS = 1e-5;
const SWIN_STD = 0.02;
const MLP_RATIO = 4;
/** The transformer stages MONAI's SwinUNETR builds (layers1 .. layers4). */
const TRANSFORMER_STAGES = 4;

/** The swin settings of an architecture (the compiler always writes them for `swin_unetr`). */
function swinOf(arch: ArchitectureSpec): SwinSpec {
  if (!arch.swin) throw new Error(`architecture '${arch.name}': a swin_unetr needs its transformer settings (feature size, depths, heads, window)`);
  return arch.swin;
}

/** Checks a SwinUNETR architecture; throws a readable error otherwise. */
export function validateSwin(arch: ArchitectureSpec): void {
  const where = `architecture '${arch.name}'`;
  if (arch.kind !== 'swin_unetr') throw new Error(`${where}: kind '${String(arch.kind)}' is not a swin_unetr`);
  const s = swinOf(arch);
  if (!Number.isInteger(s.featureSize) || s.featureSize < 12 || s.featureSize % 12 !== 0) {
    throw new Error(`${where}: feature size ${s.featureSize} must be a positive multiple of 12 (MONAI's SwinUNETR)`);
  }
  if (s.depths.length !== TRANSFORMER_STAGES || s.heads.length !== TRANSFORMER_STAGES) {
    throw new Error(`${where}: SwinUNETR has ${TRANSFORMER_STAGES} transformer stages; got ${s.depths.length} depths and ${s.heads.length} head counts`);
  }
  s.heads.forEach((h, l) => {
    const c = s.featureSize * 2 ** l;
    if (!Number.isInteger(h) || h < 1 || c % h !== 0) throw new Error(`${where}: stage ${l + 1} has ${c} channels, not divisible by ${h} attention heads`);
  });
  if (s.depths.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`${where}: transformer depths must be positive integers`);
  if (s.window.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`${where}: the attention window must be positive integers`);
  arch.patch.forEach((p, a) => {
    if (p % 32 !== 0) throw new Error(`${where}: patch [${arch.patch.join(', ')}] is not divisible by 32 on axis ${a} (SwinUNETR halves every axis 5 times)`);
  });
  if (arch.deepSupervision) throw new Error(`${where}: SwinUNETR has no deep supervision outputs`);
}

/** Input sizes must be multiples of this per axis. */
export const SWIN_INPUT_MULTIPLE: Vec3 = [32, 32, 32];

const weight = (name: string, shape: number[], fanIn: number): ParamSpec => ({ name, shape, role: 'weight', fanIn });
const linearW = (name: string, cin: number, cout: number): ParamSpec => ({ name, shape: [cin, cout], role: 'weight', fanIn: cin, std: SWIN_STD });
const bias = (name: string, n: number): ParamSpec => ({ name, shape: [n], role: 'bias', fanIn: 0 });
const norm = (prefix: string, n: number): ParamSpec[] => [
  { name: `${prefix}.scale`, shape: [n], role: 'scale', fanIn: 0 },
  { name: `${prefix}.offset`, shape: [n], role: 'offset', fanIn: 0 },
];

function resBlockParams(prefix: string, cin: number, cout: number): ParamSpec[] {
  const specs = [weight(`${prefix}.conv1.weight`, [3, 3, 3, cin, cout], 27 * cin), weight(`${prefix}.conv2.weight`, [3, 3, 3, cout, cout], 27 * cout)];
  if (cin !== cout) specs.push(weight(`${prefix}.conv3.weight`, [1, 1, 1, cin, cout], cin));
  return specs;
}

/** The encoders (MONAI's encoder1..4, encoder10) and decoders (decoder5..1): [name, in, out] with F = 1. */
const ENCODERS: [number, number, number][] = [
  [0, 0, 1],
  [1, 1, 1],
  [2, 2, 2],
  [3, 4, 4],
  [10, 16, 16],
];
const DECODERS: [number, number, number][] = [
  [5, 16, 8],
  [4, 8, 4],
  [3, 4, 2],
  [2, 2, 1],
  [1, 1, 1],
];

/** SwinUNETR's parameters in a fixed order (initialisation and checkpoints follow it), the head last. */
export function swinParameterSpecs(arch: ArchitectureSpec, numHeads: number): ParamSpec[] {
  const s = swinOf(arch);
  const F = s.featureSize;
  const table = biasTableSize(s.window);
  const specs: ParamSpec[] = [weight('vit.embed.weight', [2, 2, 2, 1, F], 8), bias('vit.embed.bias', F)];
  for (let l = 0; l < TRANSFORMER_STAGES; l++) {
    const C = F * 2 ** l;
    for (let b = 0; b < s.depths[l]; b++) {
      const p = `vit.layer${l}.block${b}`;
      specs.push(
        ...norm(`${p}.norm1`, C),
        linearW(`${p}.attn.qkv.weight`, C, 3 * C),
        bias(`${p}.attn.qkv.bias`, 3 * C),
        { name: `${p}.attn.rel_bias`, shape: [table, s.heads[l]], role: 'weight', fanIn: 0, std: SWIN_STD },
        linearW(`${p}.attn.proj.weight`, C, C),
        bias(`${p}.attn.proj.bias`, C),
        ...norm(`${p}.norm2`, C),
        linearW(`${p}.mlp.fc1.weight`, C, MLP_RATIO * C),
        bias(`${p}.mlp.fc1.bias`, MLP_RATIO * C),
        linearW(`${p}.mlp.fc2.weight`, MLP_RATIO * C, C),
        bias(`${p}.mlp.fc2.bias`, C),
      );
    }
    specs.push(...norm(`vit.layer${l}.merge.norm`, 8 * C), linearW(`vit.layer${l}.merge.reduction.weight`, 8 * C, 2 * C));
  }
  for (const [e, cin, cout] of ENCODERS) specs.push(...resBlockParams(`enc${e}`, e === 0 ? 1 : cin * F, cout * F));
  for (const [d, cin, cout] of DECODERS) {
    specs.push(weight(`dec${d}.up.weight`, [2, 2, 2, cout * F, cin * F], cin * F), ...resBlockParams(`dec${d}`, 2 * cout * F, cout * F));
  }
  specs.push(weight(`${HEAD_PREFIX}weight`, [1, 1, 1, F, numHeads], F), bias(`${HEAD_PREFIX}bias`, numHeads));
  return specs;
}

/** The window partition of a stage as row lookups (see swin-geometry.ts `windowRows`). */
interface WindowLookup {
  index: tf.Tensor1D;
  inverse: tf.Tensor1D;
}

/** The constants of one transformer stage at one input size: geometry, window partitions, bias lookup and mask. */
interface StageConstants {
  geometry: StageGeometry;
  /** The even blocks' partition (no roll) and the odd blocks' (rolled; null where the stage does not shift). */
  plain: WindowLookup;
  rolled: WindowLookup | null;
  /** The unshifted and the shifted blocks' attention tables (the latter with the mask). */
  tables: AttentionTables;
  maskedTables: AttentionTables | null;
}

/** LayerNorm over the last axis of [rows, C] (biased variance), with the affine scale/offset when given. */
function layerNorm(x: tf.Tensor2D, scale: tf.Tensor1D | null, offset: tf.Tensor1D | null): tf.Tensor2D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 1, true);
    const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LAYER_NORM_EPS))) as tf.Tensor2D;
    return scale && offset ? (tf.add(tf.mul(y, scale), offset) as tf.Tensor2D) : y;
  });
}

/** [rows, Cin] times [Cin, Cout] plus bias (a 1x1x1 convolution over the rows, see layers.ts `pointwise`). */
function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | null): tf.Tensor2D {
  return tf.tidy(() => {
    const [rows, cin] = x.shape;
    const cout = w.shape[1];
    const y = pointwise(tf.reshape(x, [1, rows, 1, 1, cin]) as tf.Tensor5D, tf.reshape(w, [1, 1, 1, cin, cout]) as tf.Tensor5D, b);
    return tf.reshape(y, [rows, cout]) as tf.Tensor2D;
  });
}

/** PyTorch's nn.GELU (exact): x * (1 + erf(x / sqrt 2)) / 2. */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as tf.Tensor2D);
}

/** Adds a [C] bias to channels-last x. */
function addChannelBias(x: tf.Tensor5D, b: tf.Tensor1D): tf.Tensor5D {
  const C = x.shape[4];
  return tf.reshape(addBias(tf.reshape(x, [x.size / C, C]) as tf.Tensor2D, b), x.shape) as tf.Tensor5D;
}

/** MONAI's v0.9 "merging" order of the 8 neighbours as groups g = 4 dz + 2 dy + dx. */
const MERGE_ORDER = [0, 4, 2, 1, 5, 2, 1, 7];

export class SwinUNETR extends ParamNetwork {
  private readonly swin: SwinSpec;
  /** Per input spatial size, each transformer stage's constants (created once, freed with the model). */
  private readonly constants = new Map<string, StageConstants[]>();

  private constructor(arch: ArchitectureSpec, heads: HeadSpec[], values: ParamValues) {
    validateSwin(arch);
    super(arch, heads, swinParameterSpecs(arch, heads.length), values);
    this.swin = swinOf(arch);
  }

  static create(arch: ArchitectureSpec, heads: HeadSpec[], seed: number): SwinUNETR {
    return new SwinUNETR(arch, heads, seededValues(seed));
  }

  static fromWeights(arch: ArchitectureSpec, heads: HeadSpec[], weights: ReadonlyMap<string, Float32Array>): SwinUNETR {
    return new SwinUNETR(arch, heads, givenValues(weights));
  }

  private stageConstants(dims: Vec3): StageConstants[] {
    const key = dims.join('x');
    const have = this.constants.get(key);
    if (have) return have;
    const rows = biasTableSize(this.swin.window);
    const out: StageConstants[] = [];
    for (let l = 0; l < TRANSFORMER_STAGES; l++) {
      const d = dims.map((v) => v / 2 ** (l + 1)) as Vec3;
      const geometry = stageGeometry(d, this.swin.window);
      const idx = relativePositionIndex(this.swin.window, geometry.tokens);
      const inv = inverseIndex(idx, rows);
      const n = geometry.tokens;
      // Kept: the first forward pass may run inside a caller's tidy or gradient scope.
      const int = (v: Int32Array) => tf.keep(tf.tensor1d(v, 'int32'));
      const lookupOf = (rolled: boolean): WindowLookup => {
        const w = windowRows(geometry, rolled);
        return { index: int(w.index), inverse: int(w.inverse) };
      };
      const tables: AttentionTables = { index: int(idx), inverse: int(inv.positions), perRow: inv.perRow, mask: null, windows: geometry.windows };
      const shifted = shifts(geometry);
      out.push({
        geometry,
        plain: lookupOf(false),
        rolled: shifted ? lookupOf(true) : null,
        tables,
        maskedTables: shifted ? { ...tables, mask: tf.keep(tf.tensor2d(attentionMask(geometry), [geometry.windows, n * n])) } : null,
      });
    }
    this.constants.set(key, out);
    return out;
  }

  protected override disposeExtra(): void {
    for (const list of this.constants.values()) {
      for (const c of list) {
        tf.dispose([c.plain.index, c.plain.inverse, c.tables.index, c.tables.inverse]);
        if (c.rolled) tf.dispose([c.rolled.index, c.rolled.inverse]);
        if (c.maskedTables?.mask) c.maskedTables.mask.dispose();
      }
    }
    this.constants.clear();
  }

  /** Window attention of [B * windows, n, C] tokens (MONAI's WindowAttention), with the mask on shifted blocks. */
  private attention(x: tf.Tensor3D, p: string, heads: number, t: AttentionTables): tf.Tensor3D {
    return tf.tidy(() => {
      const [bw, n, C] = x.shape;
      const hd = C / heads;
      const qkv = linear(tf.reshape(x, [bw * n, C]) as tf.Tensor2D, this.p(`${p}.qkv.weight`), this.bias(`${p}.qkv.bias`));
      const split = tf.transpose(tf.reshape(qkv, [bw, n, 3, heads, hd]), [2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(split, 0).map((u) => tf.reshape(u, [bw * heads, n, hd]) as tf.Tensor3D);
      const out = windowAttention(q, k, v, this.p(`${p}.rel_bias`), t, heads);
      const merged = tf.reshape(tf.transpose(tf.reshape(out, [bw, heads, n, hd]), [0, 2, 1, 3]), [bw * n, C]) as tf.Tensor2D;
      return tf.reshape(linear(merged, this.p(`${p}.proj.weight`), this.bias(`${p}.proj.bias`)), [bw, n, C]) as tf.Tensor3D;
    });
  }

  /**
   * One Swin transformer block on [B, D, H, W, C] (MONAI's SwinTransformerBlock): pad, roll and
   * window partition are one row lookup, and so are their inverses.
   */
  private block(x: tf.Tensor5D, p: string, heads: number, c: StageConstants, shifted: boolean): tf.Tensor5D {
    return tf.tidy(() => {
      const [B, D, H, W, C] = x.shape;
      const g = c.geometry;
      const rows = B * D * H * W;
      const rolled = shifted && c.rolled !== null;
      const win = rolled ? c.rolled! : c.plain;
      const tables = rolled ? c.maskedTables! : c.tables;
      const h = layerNorm(tf.reshape(x, [rows, C]) as tf.Tensor2D, this.p(`${p}.norm1.scale`), this.p(`${p}.norm1.offset`));
      const windows = gatherRows(tf.reshape(h, [B, D * H * W, C]) as tf.Tensor3D, win.index, win.inverse);
      const attn = this.attention(tf.reshape(windows, [B * g.windows, g.tokens, C]) as tf.Tensor3D, `${p}.attn`, heads, tables);
      const back = gatherRows(tf.reshape(attn, [B, g.windows * g.tokens, C]) as tf.Tensor3D, win.inverse, win.index);
      const x1 = tf.add(tf.reshape(x, [rows, C]), tf.reshape(back, [rows, C])) as tf.Tensor2D;
      const m = layerNorm(x1, this.p(`${p}.norm2.scale`), this.p(`${p}.norm2.offset`));
      const hidden = gelu(linear(m, this.p(`${p}.mlp.fc1.weight`), this.bias(`${p}.mlp.fc1.bias`)));
      const y = linear(hidden, this.p(`${p}.mlp.fc2.weight`), this.bias(`${p}.mlp.fc2.bias`));
      return tf.reshape(tf.add(x1, y), x.shape) as tf.Tensor5D;
    });
  }

  /** PatchMerging: the 8 neighbours of each 2x2x2 block in MONAI's order, LayerNorm(8C), linear 8C -> 2C. */
  private merge(x: tf.Tensor5D, p: string): tf.Tensor5D {
    return tf.tidy(() => {
      const [B, D, H, W, C] = x.shape;
      const blocks = (B * D * H * W) / 8;
      const r = tf.transpose(tf.reshape(x, [B * (D / 2), 2, H / 2, 2, W / 2, 2 * C]), [0, 2, 4, 1, 3, 5]);
      const groups = tf.reshape(r, [blocks, 8, C]);
      const picked = tf.concat(MERGE_ORDER.map((g) => tf.slice(groups, [0, g, 0], [blocks, 1, C])), 1);
      const normed = layerNorm(tf.reshape(picked, [blocks, 8 * C]) as tf.Tensor2D, this.p(`${p}.norm.scale`), this.p(`${p}.norm.offset`));
      return tf.reshape(linear(normed, this.p(`${p}.reduction.weight`), null), [B, D / 2, H / 2, W / 2, 2 * C]) as tf.Tensor5D;
    });
  }

  /** LayerNorm over the channels without affine (MONAI's proj_out with normalize). */
  private projOut(x: tf.Tensor5D): tf.Tensor5D {
    const C = x.shape[4];
    return tf.tidy(() => tf.reshape(layerNorm(tf.reshape(x, [x.size / C, C]) as tf.Tensor2D, null, null), x.shape) as tf.Tensor5D);
  }

  /** UnetResBlock: conv3-IN-LReLU-conv3-IN plus the input (or its 1x1x1 conv + IN), LReLU; no conv bias, IN without affine. */
  private resBlock(x: tf.Tensor5D, p: string): tf.Tensor5D {
    return tf.tidy(() => {
      const w1 = this.p<tf.Rank.R5>(`${p}.conv1.weight`);
      const cout = w1.shape[4];
      const zeros = tf.zeros([cout]) as tf.Tensor1D;
      const ones = tf.ones([cout]) as tf.Tensor1D;
      const unit = (t: tf.Tensor5D, w: tf.Tensor5D, slope: number) =>
        biasNormAct(conv3dPadded(t, w, [1, 1, 1], 'symmetric'), zeros, ones, zeros, INSTANCE_NORM_EPS, slope);
      const h = unit(unit(x, w1, LEAKY_RELU_SLOPE), this.p(`${p}.conv2.weight`), 1);
      const w3 = this.params.get(`${p}.conv3.weight`) as unknown as tf.Tensor5D | undefined;
      return residualAct(h, w3 ? unit(x, w3, 1) : x);
    });
  }

  protected forward(x: tf.Tensor5D, all: boolean): tf.Tensor5D[] {
    void all; // a single output: SwinUNETR has no deep supervision
    if (this.disposed) throw new Error('model has been disposed');
    if (x.rank !== 5 || x.shape[4] !== 1) throw new Error(`model input must be [B, z, y, x, 1], got [${x.shape.join(', ')}]`);
    const dims = x.shape.slice(1, 4) as Vec3;
    if (dims.some((d) => d % 32 !== 0)) throw new Error(`input spatial size [${dims.join(', ')}] is not a multiple of 32 (SwinUNETR)`);
    const consts = this.stageConstants(dims);
    return tf.tidy(() => {
      const s = this.swin;
      let h = addChannelBias(tf.conv3d(x, this.p('vit.embed.weight'), 2, 'valid'), this.p('vit.embed.bias'));
      const hidden: tf.Tensor5D[] = [this.projOut(h)];
      for (let l = 0; l < TRANSFORMER_STAGES; l++) {
        for (let b = 0; b < s.depths[l]; b++) h = this.block(h, `vit.layer${l}.block${b}`, s.heads[l], consts[l], b % 2 === 1);
        h = this.merge(h, `vit.layer${l}.merge`);
        hidden.push(this.projOut(h));
      }
      const enc0 = this.resBlock(x, 'enc0');
      const enc1 = this.resBlock(hidden[0], 'enc1');
      const enc2 = this.resBlock(hidden[1], 'enc2');
      const enc3 = this.resBlock(hidden[2], 'enc3');
      let d = this.resBlock(hidden[4], 'enc10');
      const skips = [hidden[3], enc3, enc2, enc1, enc0];
      DECODERS.forEach(([k], i) => {
        const up = upsample(d, this.p(`dec${k}.up.weight`), null, [2, 2, 2]);
        d = this.resBlock(concatChannels(up, skips[i]), `dec${k}`);
      });
      return [pointwise(d, this.p(`${HEAD_PREFIX}weight`), this.bias(`${HEAD_PREFIX}bias`))];
    });
  }
}
