/** `mtc graph`: the stage graph of a compiled experiment as Mermaid or Graphviz DOT text. */
import type { RuntimeGraph, Stage } from '../graph/types.js';

export type GraphFormat = 'mermaid' | 'dot';

/** A one-line summary of what a stage does. */
export function stageSummary(s: Stage): string {
  switch (s.kind) {
    case 'prepare':
      return `dataset ${s.datasets[0]}`;
    case 'preprocess':
      return `${s.datasets.length} dataset${s.datasets.length === 1 ? '' : 's'}, spacing [${s.spacing.join(', ')}] mm, ${s.normalization.statsFrom ? `CT statistics of ${s.normalization.statsFrom}` : 'own CT statistics'}`;
    case 'train':
    case 'finetune':
      const fold = s.fold === null ? 'every case' : `fold ${s.fold}/${s.split.folds}`;
      return `${s.architecture.kind} ${s.architecture.name}, ${s.heads.length} heads, ${s.schedule.epochs} epochs, batch ${s.batch}, ${s.loss}, ${fold}`;
    case 'evaluate':
      return `${s.datasets.length} dataset${s.datasets.length === 1 ? '' : 's'}, ${s.models.length === 1 ? `fold ${s.models[0].fold}` : `${s.models.length}-fold CV`}, ${(s.metrics ?? ['dice']).join('+')}${s.inference.mirror ? ', TTA' : ''}`;
    case 'report':
      return `${s.evaluations.length} evaluation${s.evaluations.length === 1 ? '' : 's'}`;
  }
}

/** What flows along a dependency: `backbone` (fine-tuning's initial weights), `statistics` (normalisation taken over), or plain data. */
export function edgeLabel(from: string, to: Stage): string | null {
  if (to.kind === 'finetune' && to.from === from) return 'backbone';
  if (to.kind === 'preprocess' && to.normalization.statsFrom === from) return 'CT statistics';
  return null;
}

const esc = (s: string) => s.replace(/"/g, '\\"');

export function renderGraph(graph: RuntimeGraph, format: GraphFormat): string {
  const ids = new Map(graph.stages.map((s, i) => [s.id, `s${i}`]));
  if (format === 'mermaid') {
    const out = ['flowchart TD'];
    for (const s of graph.stages) out.push(`  ${ids.get(s.id)}["<b>${s.id.replace(/"/g, '#quot;')}</b><br/>${stageSummary(s).replace(/"/g, '#quot;')}"]`);
    for (const s of graph.stages) {
      for (const d of s.deps) {
        const label = edgeLabel(d, s);
        out.push(`  ${ids.get(d)} ${label ? `-- ${label} --> ` : '--> '}${ids.get(s.id)}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
  const out = [`digraph "${esc(graph.source.experiments.join(', '))}" {`, '  rankdir=TB;', '  node [shape=box, fontname="Helvetica"];'];
  for (const s of graph.stages) out.push(`  ${ids.get(s.id)} [label="${esc(s.id)}\\n${esc(stageSummary(s))}"];`);
  for (const s of graph.stages) {
    for (const d of s.deps) {
      const label = edgeLabel(d, s);
      out.push(`  ${ids.get(d)} -> ${ids.get(s.id)}${label ? ` [label="${label}"]` : ''};`);
    }
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
