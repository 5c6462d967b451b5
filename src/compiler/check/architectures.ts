/**
 * `architecture NAME { kind unet|resenc_unet|swin_unetr  patch [z, y, x]  spacing [z, y, x]?  stages N?
 *   features [...]?  blocks [...]?  kernels [[...]]?  strides [[...]]?  deep_supervision B?  feature_size N?
 *   padding end|symmetric?  residual_skip strided_conv|avgpool_conv?  conv_bias B?  upsample_bias B?
 *   head_bias B?  decoder_kernels stage|deeper? }` (the layer conventions: mtc's own by default,
 *   nnU-Net's in the architectures `mtc import` writes)
 */
import { MTC_LAYERS } from '../../graph/layers.js';
import type { ArchitectureKind, ArchitectureSpec, LayerConventions, Vec3 } from '../../graph/types.js';
import type { Block, Declaration, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import type { Span } from '../source.js';
import { Fields } from './fields.js';
import type { ArchitectureModel } from './model.js';
import { defaultFeatures, deriveTopology } from './topology.js';
import { axisName, ValueReader } from './values.js';

/** The option words of the layer-convention fields (see graph/layers.ts). */
export const LAYER_OPTIONS = {
  padding: ['end', 'symmetric'],
  residual_skip: ['strided_conv', 'avgpool_conv'],
  decoder_kernels: ['stage', 'deeper'],
} as const satisfies Record<string, readonly string[]>;

export { deriveStrides } from './topology.js';

export const ARCHITECTURE_KINDS: readonly ArchitectureKind[] = ['unet', 'resenc_unet', 'swin_unetr'];
export const CONVS_PER_STAGE: Record<ArchitectureKind, number> = { unet: 2, resenc_unet: 1, swin_unetr: 2 };
/** nnU-Net v2's residual-encoder blocks per stage. */
export const RESENC_BLOCKS = [1, 3, 4, 6, 6, 6, 6, 6];
/** SwinUNETR (MONAI): stages, total stride per axis, transformer depths and heads. */
/** The most resolution stages a U-Net may have (2^15 voxels per axis would be needed to halve them all). */
export const MAX_STAGES = 16;
export const SWIN = { stages: 6, totalStride: 32, depths: [2, 2, 2, 2], heads: [3, 6, 12, 24], window: [7, 7, 7] as Vec3, featureSize: 48 };

/** Where errors about an instantiation point. */
export interface InstanceSpans {
  owner: string;
  patch: Span;
  patchItems: Span[] | null;
}

function swinFeatures(fs: number): number[] {
  return [fs, fs, 2 * fs, 4 * fs, 8 * fs, 16 * fs];
}

/**
 * The architecture's topology at a patch and spacing: strides and kernels derived unless given,
 * every patch axis checked against its total stride (MT0305).
 */
export function instantiate(sink: DiagnosticSink, m: Omit<ArchitectureModel, 'spec'>, patch: Vec3, spacing: Vec3 | null, at: InstanceSpans): ArchitectureSpec | undefined {
  const derived = deriveTopology(patch, spacing ?? [1, 1, 1], m.kind === 'swin_unetr' ? SWIN.stages : (m.stages ?? m.features?.length ?? m.strides?.length ?? m.kernels?.length ?? m.blocks?.length ?? null));
  let strides = m.strides ?? derived.strides;
  if (m.kind === 'swin_unetr') strides = [[1, 1, 1], ...Array.from({ length: SWIN.stages - 1 }, (): Vec3 => [2, 2, 2])];
  const n = strides.length;
  const kernels = m.kernels ?? (m.kind === 'swin_unetr' ? strides.map((): Vec3 => [3, 3, 3]) : derived.kernels.slice(0, n));
  const features = m.features ?? (m.kind === 'swin_unetr' ? swinFeatures(m.featureSize) : defaultFeatures(n));
  let divisible = true;
  for (let a = 0; a < 3; a++) {
    const axisStrides = strides.map((s) => s[a]);
    const total = axisStrides.reduce((p, s) => p * s, 1);
    if (patch[a] % total !== 0) {
      divisible = false;
      const lower = Math.floor(patch[a] / total) * total;
      const suggestions = [lower, lower + total].filter((v) => v > 0).join(' or ');
      const how = m.kind === 'swin_unetr' ? 'SwinUNETR halves every axis 5 times' : `${m.strides ? '' : 'derived '}strides on ${axisName(a)}: ${axisStrides.join(' x ')}`;
      sink.error(
        'MT0305',
        at.patchItems?.[a] ?? at.patch,
        `patch size ${patch[a]} on axis ${axisName(a)} is not divisible by the total stride ${total} (${how})`,
        `use a multiple of ${total} on ${axisName(a)}, e.g. ${suggestions}${m.strides || m.kind === 'swin_unetr' ? '' : ", or give 'strides' explicitly"}`,
      );
    }
  }
  if (!divisible) return undefined;
  const spec: ArchitectureSpec = {
    name: m.name,
    kind: m.kind,
    patch: [...patch],
    features: [...features],
    strides: strides.map((s): Vec3 => [...s]),
    convsPerStage: CONVS_PER_STAGE[m.kind],
    kernels: kernels.map((k): Vec3 => [...k]),
    deepSupervision: m.deepSupervision,
    spacing: [...(spacing ?? [1, 1, 1])],
    layers: { ...m.layers },
  };
  if (m.kind === 'resenc_unet') spec.blocksPerStage = m.blocks ?? RESENC_BLOCKS.slice(0, n).concat(Array.from({ length: Math.max(0, n - RESENC_BLOCKS.length) }, () => 6));
  if (m.kind === 'swin_unetr') spec.swin = { featureSize: m.featureSize, depths: [...SWIN.depths], heads: [...SWIN.heads], window: [...SWIN.window] };
  return spec;
}

function perStage(r: ValueReader, v: Value, what: string, item: (it: Value, i: number) => Vec3 | undefined): Vec3[] | undefined {
  const items = r.list(v, what, 'per-stage [z, y, x]');
  if (items === undefined) return undefined;
  const got = items.map(item);
  return got.every((s): s is Vec3 => s !== undefined) ? got : undefined;
}

export function checkArchitecture(sink: DiagnosticSink, decl: Declaration, name: string, body: Block | null = decl.body): ArchitectureModel | undefined {
  const owner = `architecture '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'architecture', body);
  let ok = true;

  const kindV = f.value('kind', 'kind unet');
  let kind: ArchitectureKind = 'unet';
  if (kindV) {
    const k = r.option(kindV, 'architecture kind', ARCHITECTURE_KINDS);
    if (k === undefined) ok = false;
    else kind = k;
  }
  const notFor = (field: string, kinds: ArchitectureKind[], why: string): void => {
    const e = f.entry(field);
    if (e !== undefined && !kinds.includes(kind)) {
      sink.error('MT0315', e.key.span, `'${field}' does not apply to a ${kind} architecture (${owner})`, why);
      ok = false;
    }
  };
  notFor('blocks', ['resenc_unet'], "residual blocks per stage belong to kind resenc_unet; remove 'blocks' or change the kind");
  notFor('feature_size', ['swin_unetr'], "'feature_size' is SwinUNETR's embedding size; U-Nets take 'features'");
  notFor('strides', ['unet', 'resenc_unet'], 'SwinUNETR halves every axis 5 times; its strides are fixed');
  notFor('stages', ['unet', 'resenc_unet'], 'SwinUNETR has a fixed number of stages');
  notFor('features', ['unet', 'resenc_unet'], "SwinUNETR's features follow from 'feature_size'");
  notFor('kernels', ['unet', 'resenc_unet'], "SwinUNETR's kernels are fixed");
  notFor('residual_skip', ['resenc_unet'], "the residual skip belongs to kind resenc_unet; remove 'residual_skip' or change the kind");
  for (const field of ['padding', 'conv_bias', 'upsample_bias', 'head_bias', 'decoder_kernels']) {
    notFor(field, ['unet', 'resenc_unet'], `'${field}' is a layer convention of the U-Nets (imported nnU-Net networks); SwinUNETR's layers are fixed`);
  }

  const patchV = f.required('patch', 'patch [96, 192, 192]');
  const patch = patchV ? r.vec3(patchV, "'patch'", { integer: true, min: 0, exclusiveMin: true }) : undefined;
  if (patch === undefined) ok = false;

  const spV = f.value('spacing', 'spacing [1.5, 1, 1]');
  const spacing = spV ? r.vec3(spV, "'spacing'", { integer: false, min: 0, exclusiveMin: true }) : null;
  if (spacing === undefined) ok = false;

  const stV = f.value('stages', 'stages 6');
  const stages = stV ? r.integer(stV, "'stages'", 2, 'a U-Net needs at least 2 resolution stages') : null;
  if (stages === undefined) ok = false;

  let features: number[] | null = null;
  const featV = f.value('features', 'features [32, 64, 128, 256, 320, 320]');
  if (featV) {
    const items = r.list(featV, "'features'", 'feature counts');
    if (items === undefined) ok = false;
    else {
      const got = items.map((it, i) => r.integer(it, `'features' (stage ${i})`, 1));
      if (items.length < 2) {
        sink.error('MT0303', featV.span, `'features' needs at least 2 stages for a U-Net, found ${items.length}`, 'e.g. features [8, 16, 32, 64]');
        ok = false;
      } else if (got.every((n): n is number => n !== undefined)) features = got;
      else ok = false;
    }
  }

  let blocks: number[] | null = null;
  const blV = f.value('blocks', 'blocks [1, 3, 4, 6, 6, 6]');
  if (blV && kind === 'resenc_unet') {
    const items = r.list(blV, "'blocks'", 'residual blocks per stage');
    const got = items?.map((it, i) => r.integer(it, `'blocks' (stage ${i})`, 1));
    if (got !== undefined && got.every((n): n is number => n !== undefined)) blocks = got;
    else ok = false;
  }

  let strides: Vec3[] | null = null;
  const strV = f.value('strides', 'strides [[1, 1, 1], [2, 2, 2], [2, 2, 2]]');
  if (strV && kind !== 'swin_unetr') {
    const got = perStage(r, strV, "'strides'", (it, i) => r.vec3(it, `'strides' (stage ${i})`, { integer: true, min: 1 }));
    if (got === undefined) ok = false;
    else if (got.length > 0 && got[0].some((s) => s !== 1)) {
      sink.error('MT0306', strV.kind === 'list' ? strV.items[0].span : strV.span, `the first stage's stride must be [1, 1, 1] (the network starts at full resolution), found [${got[0].join(', ')}]`);
      ok = false;
    } else strides = got;
  }

  let kernels: Vec3[] | null = null;
  const kV = f.value('kernels', 'kernels [[1, 3, 3], [3, 3, 3]]');
  if (kV && kind !== 'swin_unetr') {
    const got = perStage(r, kV, "'kernels'", (it, i) => {
      const k = r.vec3(it, `'kernels' (stage ${i})`, { integer: true, min: 1 });
      if (k !== undefined && k.some((x) => x % 2 === 0)) {
        sink.error('MT0303', it.span, `kernel sizes must be odd (same padding), found [${k.join(', ')}] at stage ${i}`, 'use 1, 3, 5 or 7');
        return undefined;
      }
      return k;
    });
    if (got === undefined) ok = false;
    else kernels = got;
  }

  const dsV = f.value('deep_supervision', 'deep_supervision true');
  let deepSupervision = kind !== 'swin_unetr';
  if (dsV) {
    const b = r.bool(dsV, "'deep_supervision'");
    if (b === undefined) ok = false;
    else if (b && kind === 'swin_unetr') {
      sink.error('MT0315', dsV.span, `${owner}: SwinUNETR has no deep supervision outputs`, 'write deep_supervision false, or leave it out');
      ok = false;
    } else deepSupervision = b;
  }

  const fsV = f.value('feature_size', 'feature_size 48');
  let featureSize = SWIN.featureSize;
  if (fsV && kind === 'swin_unetr') {
    const n = r.integer(fsV, "'feature_size'", 12);
    if (n === undefined) ok = false;
    else if (n % 12 !== 0) {
      sink.error('MT0303', fsV.span, `'feature_size' must be a multiple of 12 (SwinUNETR's attention heads), found ${n}`, 'the paper uses 48');
      ok = false;
    } else featureSize = n;
  }

  // Layer conventions (mtc's own unless given; `mtc import` writes nnU-Net's).
  const layers: LayerConventions = { ...MTC_LAYERS };
  const optionField = <K extends 'padding' | 'residualSkip' | 'decoderKernels'>(field: string, key: K, options: readonly LayerConventions[K][], example: string): void => {
    const v = f.value(field, example);
    if (!v) return;
    const got = r.option(v, `'${field}'`, options);
    if (got === undefined) ok = false;
    else layers[key] = got;
  };
  optionField('padding', 'padding', LAYER_OPTIONS.padding, 'padding symmetric');
  optionField('residual_skip', 'residualSkip', LAYER_OPTIONS.residual_skip, 'residual_skip avgpool_conv');
  optionField('decoder_kernels', 'decoderKernels', LAYER_OPTIONS.decoder_kernels, 'decoder_kernels deeper');
  for (const [field, key] of [['conv_bias', 'convBias'], ['upsample_bias', 'upsampleBias'], ['head_bias', 'headBias']] as const) {
    const v = f.value(field, `${field} false`);
    if (!v) continue;
    const b = r.bool(v, `'${field}'`);
    if (b === undefined) ok = false;
    else layers[key] = b;
  }

  // Per-stage lists must agree in length (with each other and with 'stages').
  const lengths: Array<[string, number, Span]> = [];
  if (stages !== null && stages !== undefined && stV) lengths.push(['stages', stages, stV.span]);
  if (features && featV) lengths.push(['features', features.length, featV.span]);
  if (strides && strV) lengths.push(['strides', strides.length, strV.span]);
  if (kernels && kV) lengths.push(['kernels', kernels.length, kV.span]);
  if (blocks && blV) lengths.push(['blocks', blocks.length, blV.span]);
  const tooMany = lengths.find(([, n]) => n > MAX_STAGES);
  if (tooMany !== undefined) {
    sink.error('MT0303', tooMany[2], `${owner} has ${tooMany[1]} stages ('${tooMany[0]}'); at most ${MAX_STAGES} are supported`, 'nnU-Net plans have 5 to 7 stages');
    ok = false;
  }
  for (const [field, n, span] of lengths.slice(1)) {
    const [firstField, firstN] = lengths[0];
    if (n !== firstN) {
      sink.error('MT0306', span, `'${field}' has ${n} stages but '${firstField}' has ${firstN}`, `give one entry per stage${field === 'strides' ? ', the first [1, 1, 1]' : ''}`);
      ok = false;
    }
  }

  if (!ok || patch === undefined || spacing === undefined || stages === undefined) return undefined;
  const model: Omit<ArchitectureModel, 'spec'> = { name, kind, patch, spacing, stages, features, blocks, kernels, strides, deepSupervision, featureSize, layers };
  const spec = instantiate(sink, model, patch, spacing, { owner, patch: patchV!.span, patchItems: patchV!.kind === 'list' ? patchV!.items.map((i) => i.span) : null });
  if (spec === undefined) return undefined;
  return { ...model, spec };
}
