/** The `.mt` file `mtc import` writes next to an imported model: its datasets, classes and architecture. */
import { layersOf } from '../../graph/layers.js';
import type { Vec3 } from '../../graph/types.js';
import type { ImportedModel } from './model.js';

const vec = (v: readonly (number | string)[]): string => `[${v.join(', ')}]`;
const vecs = (v: readonly Vec3[]): string => `[${v.map(vec).join(', ')}]`;

function pad(names: string[]): (s: string) => string {
  const w = Math.max(0, ...names.map((n) => n.length));
  return (s) => s.padEnd(w);
}

/**
 * The source text. `where.dir` is the model folder (holding this file), `where.checkpoint` the
 * checkpoint folder the fine-tuning example names as `pretrained` (the folder itself, or a fold's).
 */
export function importedModelSource(model: ImportedModel, where: { dir: string; checkpoint: string }): string {
  const a = model.architecture;
  const l = layersOf(a);
  const s = model.source;
  const out: string[] = [];
  out.push(`// Imported by mtc import from ${s.path}`);
  out.push(`// (${s.format === 'nnunet-v2' ? 'nnU-Net v2' : 'nnU-Net v1'} ${s.network}, ${s.configuration}, trainer ${s.trainer}, ${model.activation === 'softmax' ? 'softmax over the labels' : 'a sigmoid per class'}).`);
  out.push('//');
  out.push('// Fine-tune from it (the backbone is copied, the heads are new):');
  out.push(`//   import ${JSON.stringify(`${where.dir}/model.mt`)}`);
  out.push('//   import "std/schedules"');
  out.push('//   experiment my_finetune {');
  out.push(`//     pretrained   ${JSON.stringify(where.checkpoint)}`);
  out.push(`//     architecture ${a.name}`);
  out.push(`//     datasets     [my_dataset]`);
  out.push('//     schedule     multitalent_finetune');
  out.push('//   }');
  out.push(`// Segment with it:  mtc infer ${JSON.stringify(where.dir)} IMAGE.nii.gz -o OUT`);
  out.push('');
  const stdlib = [...new Set(model.datasets.map((d) => d.stdlib).filter((x): x is string => x !== null))];
  for (const m of stdlib) out.push(`import "${m}"`);
  if (stdlib.length > 0) out.push(`// The classes of ${model.datasets.filter((d) => d.stdlib).map((d) => d.name).join(', ')} are declared there.`, '');
  for (const d of model.datasets.filter((x) => x.stdlib === null)) {
    out.push(`dataset ${d.name} {`);
    out.push(`  root  ${JSON.stringify(d.root)}`);
    if (d.cases !== null) out.push(`  cases ${d.cases}`);
    const labelNames = Object.keys(d.labels);
    if (labelNames.length > 0) out.push(`  labels { ${labelNames.map((k) => `${k} ${d.labels[k]}`).join('  ')} }`);
    out.push('  classes {');
    const p = pad(d.classes.map((c) => c.name));
    const byValue = new Map(Object.entries(d.labels).map(([k, v]) => [v, k]));
    for (const c of d.classes) {
      const refs = c.labels.map((v) => byValue.get(v) ?? String(v));
      out.push(`    ${p(c.name)} ${vec(refs)}${c.tags.length > 0 ? `  tags ${vec(c.tags)}` : ''}`);
    }
    out.push('  }');
    out.push('}');
    out.push('');
  }
  out.push(`// The network as nnU-Net built it: ${model.folds[0]?.mapping.parameters ?? 0} parameters.`);
  out.push(`architecture ${a.name} {`);
  const fields: [string, string][] = [
    ['kind', a.kind],
    ['patch', vec(a.patch)],
    ['spacing', vec(a.spacing ?? model.preprocessing.spacing)],
    ['features', vec(a.features)],
    ['strides', vecs(a.strides)],
    ['kernels', vecs(a.kernels ?? a.strides.map((): Vec3 => [3, 3, 3]))],
  ];
  if (a.blocksPerStage) fields.push(['blocks', vec(a.blocksPerStage)]);
  fields.push(['deep_supervision', String(a.deepSupervision ?? true)]);
  fields.push(['padding', l.padding]);
  if (a.kind === 'resenc_unet') fields.push(['residual_skip', l.residualSkip]);
  fields.push(['conv_bias', String(l.convBias)], ['upsample_bias', String(l.upsampleBias)], ['head_bias', String(l.headBias)], ['decoder_kernels', l.decoderKernels]);
  const p = pad(fields.map(([k]) => k));
  for (const [k, v] of fields) out.push(`  ${p(k)} ${v}`);
  out.push('}');
  return `${out.join('\n')}\n`;
}
