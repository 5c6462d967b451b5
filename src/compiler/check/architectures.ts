/** `architecture NAME { kind unet  patch [z, y, x]  features [...]  strides [[...], ...]? }`. */
import type { ArchitectureSpec, Vec3 } from '../../graph/types.js';
import type { Declaration } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { Fields } from './fields.js';
import { axisName, ValueReader } from './values.js';

export const CONVS_PER_STAGE = 2;
/** An axis is halved while its current size is at least this. */
export const MIN_SIZE_TO_DOWNSAMPLE = 8;

/**
 * Default strides: stage 0 is [1, 1, 1]; every later stage halves each axis whose current size
 * is at least 8, and leaves the others (stride 1).
 */
export function deriveStrides(patch: Vec3, stages: number): Vec3[] {
  const size = [...patch];
  const out: Vec3[] = [[1, 1, 1]];
  for (let s = 1; s < stages; s++) {
    const stride = size.map((n) => (n >= MIN_SIZE_TO_DOWNSAMPLE ? 2 : 1));
    for (let a = 0; a < 3; a++) size[a] = size[a] / stride[a];
    out.push([stride[0], stride[1], stride[2]]);
  }
  return out;
}

export function checkArchitecture(sink: DiagnosticSink, decl: Declaration, name: string): ArchitectureSpec | undefined {
  const owner = `architecture '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'architecture', decl.body);
  let ok = true;

  const kindV = f.value('kind', 'kind unet');
  if (kindV && r.option(kindV, 'architecture kind', ['unet'] as const, {
    resenc_unet: 'only the plain U-Net (unet) exists so far',
    swin_unetr: 'only the plain U-Net (unet) exists so far',
  }) === undefined) ok = false;

  const patchV = f.required('patch', 'patch [96, 192, 192]');
  const patch = patchV ? r.vec3(patchV, "'patch'", { integer: true, min: 0, exclusiveMin: true }) : undefined;
  if (patch === undefined) ok = false;

  const featV = f.required('features', 'features [32, 64, 128, 256, 320, 320]');
  let features: number[] | undefined;
  if (featV) {
    const items = r.list(featV, "'features'", 'feature counts');
    if (items) {
      const got = items.map((it, i) => r.integer(it, `'features' (stage ${i})`, 1));
      if (got.every((n): n is number => n !== undefined)) features = got;
      if (items.length < 2) {
        sink.error('MT0303', featV.span, `'features' needs at least 2 stages for a U-Net, found ${items.length}`, 'e.g. features [8, 16, 32, 64]');
        features = undefined;
      }
    }
  }
  if (features === undefined) ok = false;

  let strides: Vec3[] | undefined;
  let explicitStrides = false;
  const strV = f.value('strides', 'strides [[1, 1, 1], [2, 2, 2], [2, 2, 2]]');
  if (strV) {
    explicitStrides = true;
    const items = r.list(strV, "'strides'", 'per-stage strides [z, y, x]');
    if (items) {
      const got = items.map((it, i) => r.vec3(it, `'strides' (stage ${i})`, { integer: true, min: 1 }));
      if (got.every((s): s is Vec3 => s !== undefined)) strides = got;
      if (strides && features && strides.length !== features.length) {
        sink.error('MT0306', strV.span, `'strides' has ${strides.length} stages but 'features' has ${features.length}`, 'give one stride [z, y, x] per stage, the first [1, 1, 1]');
        strides = undefined;
      } else if (strides && strides.length > 0 && strides[0].some((s) => s !== 1)) {
        sink.error('MT0306', items[0].span, `the first stage's stride must be [1, 1, 1] (the network starts at full resolution), found [${strides[0].join(', ')}]`);
        strides = undefined;
      }
    }
    if (strides === undefined) ok = false;
  }

  if (!ok || patch === undefined || features === undefined) return undefined;
  strides ??= deriveStrides(patch, features.length);

  let divisible = true;
  for (let a = 0; a < 3; a++) {
    const axisStrides = strides.map((s) => s[a]);
    const total = axisStrides.reduce((p, s) => p * s, 1);
    if (patch[a] % total !== 0) {
      divisible = false;
      const lower = Math.floor(patch[a] / total) * total;
      const upper = lower + total;
      const suggestions = [lower, upper].filter((n) => n > 0).join(' or ');
      sink.error(
        'MT0305',
        patchV!.kind === 'list' && patchV!.items[a] ? patchV!.items[a].span : patchV!.span,
        `patch size ${patch[a]} on axis ${axisName(a)} is not divisible by the total stride ${total} (${explicitStrides ? '' : 'derived '}strides on ${axisName(a)}: ${axisStrides.join(' x ')})`,
        `use a multiple of ${total} on ${axisName(a)}, e.g. ${suggestions}${explicitStrides ? '' : ", or give 'strides' explicitly"}`,
      );
    }
  }
  if (!divisible) return undefined;
  return { name, kind: 'unet', patch, features, strides, convsPerStage: CONVS_PER_STAGE };
}
