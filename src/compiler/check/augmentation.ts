/**
 * `augmentation NAME { rotation { p 0.2  range [-30, 30] }  ...  mirror { p 0.5  axes [z, y, x] } }`:
 * a profile of transforms, each with its probability and parameter range. `none` is built in.
 * Which transforms exist and what their fields mean is declared once, in graph/transforms.ts.
 */
import type { AugmentationSpec, AugmentTransform } from '../../graph/types.js';
import { transformDeclaration, transformRank, type TransformKind } from '../../graph/transforms.js';
import type { Block, Declaration } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { BLOCK_FIELDS, Fields } from './fields.js';
import { ValueReader } from './values.js';

export const NO_AUGMENTATION: AugmentationSpec = { name: 'none', transforms: [] };

const AXIS_WORDS = ['z', 'y', 'x'] as const;

/** A range to show in hints, e.g. nnU-Net's for the transform. */
function exampleRange(kind: TransformKind): string {
  const r = transformDeclaration(kind).nnunet.range ?? [0, 1];
  return `range [${r[0]}, ${r[1]}]`;
}

export function checkAugmentation(sink: DiagnosticSink, decl: Declaration, name: string, body: Block | null = decl.body): AugmentationSpec | undefined {
  const owner = `augmentation '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'augmentation', body);
  let ok = true;
  const transforms: AugmentTransform[] = [];
  for (const e of body?.entries ?? []) {
    const kind = e.key.text as TransformKind;
    if (!(BLOCK_FIELDS.augmentation as readonly string[]).includes(kind) || f.entry(kind) !== e) continue;
    const d = transformDeclaration(kind);
    const example = `${kind} { p ${d.nnunet.p || 0.2}${d.range ? `  ${exampleRange(kind)}` : ''} }`;
    if (e.block === null || e.value !== null) {
      sink.error('MT0301', e.value?.span ?? e.key.span, `'${kind}' expects a block { p ...${d.range ? '  range [low, high]' : ''} }`, `write: ${example}`);
      ok = false;
      continue;
    }
    const tOwner = `transform '${kind}' of ${owner}`;
    const tf = new Fields(sink, tOwner, e.key.span, 'transform', e.block);
    const pV = tf.required('p', 'p 0.2');
    const p = pV ? r.fraction(pV, `'p' of '${kind}'`, d.pMeans === 'axis' ? 'a probability per axis' : 'a probability per sample') : undefined;
    const t: AugmentTransform = { kind, p: p ?? 0 };
    if (p === undefined) ok = false;
    const rangeV = d.range === null || !d.range.required ? tf.value('range', exampleRange(kind)) : tf.required('range', exampleRange(kind));
    if (rangeV && d.range === null) {
      sink.error('MT0311', rangeV.span, `'${kind}' takes no range`, d.axes ? `'${kind}' acts on each listed axis with probability p` : undefined);
      ok = false;
    } else if (rangeV && d.range) {
      const what = `'range' of '${kind}'`;
      const items = r.list(rangeV, what, 'two numbers [low, high]');
      if (items === undefined) ok = false;
      else if (items.length !== 2) {
        sink.error('MT0301', rangeV.span, `${what} expects two numbers [low, high] (${d.range.meaning}), found ${items.length}`);
        ok = false;
      } else {
        const b = d.range.bounds;
        const read = (i: number, end: string) => (b ? r.ranged(items[i], `${what} (${end})`, b) : r.number(items[i], `${what} (${end})`));
        const lo = read(0, 'low');
        const hi = read(1, 'high');
        if (lo === undefined || hi === undefined) ok = false;
        else if (lo > hi) {
          sink.error('MT0303', rangeV.span, `${what} runs from ${lo} down to ${hi}`, `write [${hi}, ${lo}]`);
          ok = false;
        } else t.range = [lo, hi];
      }
    } else if (d.range && !d.range.required && p !== undefined && p > 0) {
      sink.error('MT0304', e.key.span, `${tOwner} applies with p ${p} but gives no range (${d.range.meaning})`, `add: ${exampleRange(kind)}`);
      ok = false;
    }
    const axesV = tf.value('axes', 'axes [z, y, x]');
    if (axesV && d.axes === null) {
      sink.error('MT0311', axesV.span, `'${kind}' takes no axes`, `only ${['rotation', 'mirror'].map((k) => `'${k}'`).join(' and ')} act on chosen axes`);
      ok = false;
    } else if (axesV && d.axes) {
      const items = r.list(axesV, `'axes' of '${kind}'`, 'axis names z, y, x');
      const got = items?.map((it) => r.option(it, 'axis', AXIS_WORDS));
      if (got === undefined || got.some((a) => a === undefined)) ok = false;
      else t.axes = [...new Set(got.map((a) => AXIS_WORDS.indexOf(a!)))].sort();
    } else if (d.axes) t.axes = [...d.axes.default];
    transforms.push(t);
  }
  // Transforms apply in nnU-Net's order whatever the order written; the graph lists them so.
  transforms.sort((a, b) => transformRank(a.kind) - transformRank(b.kind));
  return ok ? { name, transforms } : undefined;
}
