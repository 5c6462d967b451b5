/**
 * `augmentation NAME { rotation { p 0.2  range [-30, 30] }  ...  mirror { p 0.5  axes [z, y, x] } }`:
 * a profile of transforms, each with its probability and parameter range. `none` is built in.
 */
import type { AugmentationSpec, AugmentTransform } from '../../graph/types.js';
import type { Block, Declaration } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { BLOCK_FIELDS, Fields } from './fields.js';
import { ValueReader } from './values.js';

export const NO_AUGMENTATION: AugmentationSpec = { name: 'none', transforms: [] };

type TransformKind = AugmentTransform['kind'];

/** What each transform's range means, for messages and docs. */
export const TRANSFORM_RANGES: Record<TransformKind, string | null> = {
  rotation: 'angle in degrees, each axis',
  scaling: 'zoom factor, one for all axes',
  elastic: 'deformation magnitude',
  noise: 'standard deviation of the Gaussian noise',
  blur: 'Gaussian sigma in voxels, per axis',
  brightness: 'multiplicative factor',
  contrast: 'contrast factor',
  low_resolution: 'zoom of the simulated low resolution',
  gamma_inverted: 'gamma, on the inverted image',
  gamma: 'gamma',
  mirror: null,
};

const AXIS_WORDS = ['z', 'y', 'x'] as const;

export function checkAugmentation(sink: DiagnosticSink, decl: Declaration, name: string, body: Block | null = decl.body): AugmentationSpec | undefined {
  const owner = `augmentation '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'augmentation', body);
  let ok = true;
  const transforms: AugmentTransform[] = [];
  for (const e of body?.entries ?? []) {
    const kind = e.key.text as TransformKind;
    if (!(BLOCK_FIELDS.augmentation as readonly string[]).includes(kind) || f.entry(kind) !== e) continue;
    if (e.block === null || e.value !== null) {
      sink.error('MT0301', e.value?.span ?? e.key.span, `'${kind}' expects a block { p ...${TRANSFORM_RANGES[kind] ? '  range [low, high]' : ''} }`, `write: ${kind} { p 0.2${TRANSFORM_RANGES[kind] ? '  range [0.7, 1.4]' : ''} }`);
      ok = false;
      continue;
    }
    const tOwner = `transform '${kind}' of ${owner}`;
    const tf = new Fields(sink, tOwner, e.key.span, 'transform', e.block);
    const pV = tf.required('p', 'p 0.2');
    const p = pV ? r.fraction(pV, `'p' of '${kind}'`, 'a probability per sample') : undefined;
    const t: AugmentTransform = { kind, p: p ?? 0 };
    if (p === undefined) ok = false;
    const rangeV = TRANSFORM_RANGES[kind] === null ? tf.value('range', 'range [0, 1]') : kind === 'elastic' ? tf.value('range', 'range [0, 200]') : tf.required('range', 'range [0.7, 1.4]');
    if (rangeV && TRANSFORM_RANGES[kind] === null) {
      sink.error('MT0311', rangeV.span, `'${kind}' takes no range`, 'mirroring flips each listed axis with probability p');
      ok = false;
    } else if (rangeV) {
      const items = r.list(rangeV, `'range' of '${kind}'`, 'two numbers [low, high]');
      if (items === undefined) ok = false;
      else if (items.length !== 2) {
        sink.error('MT0301', rangeV.span, `'range' of '${kind}' expects two numbers [low, high], found ${items.length}`);
        ok = false;
      } else {
        const lo = r.number(items[0], `'range' of '${kind}' (low)`);
        const hi = r.number(items[1], `'range' of '${kind}' (high)`);
        if (lo === undefined || hi === undefined) ok = false;
        else if (lo > hi) {
          sink.error('MT0303', rangeV.span, `'range' of '${kind}' runs from ${lo} down to ${hi}`, `write [${hi}, ${lo}]`);
          ok = false;
        } else t.range = [lo, hi];
      }
    }
    const axesV = tf.value('axes', 'axes [z, y, x]');
    if (axesV) {
      const items = r.list(axesV, `'axes' of '${kind}'`, 'axis names z, y, x');
      const got = items?.map((it) => r.option(it, 'axis', AXIS_WORDS));
      if (got === undefined || got.some((a) => a === undefined)) ok = false;
      else t.axes = [...new Set(got.map((a) => AXIS_WORDS.indexOf(a!)))].sort();
    } else if (kind === 'mirror' || kind === 'rotation') t.axes = [0, 1, 2];
    transforms.push(t);
  }
  return ok ? { name, transforms } : undefined;
}
