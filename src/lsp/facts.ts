/**
 * What hover says about a declaration: the facts the checker resolved (an architecture's derived
 * topology, a dataset's classes and sampling shares, a schedule's phases, a family's expansion),
 * as markdown. Reads the checked program only.
 */
import type { ArchitectureSpec, LrLaw, OptimizerSpec, Vec3 } from '../graph/index.js';
import { BLOCK_DOCS, FIELD_DOCS, samplingShares, type BlockKind, type CheckedProgram } from '../compiler/index.js';

const vec = (v: readonly number[]) => `[${v.join(', ')}]`;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function law(l: LrLaw): string {
  switch (l.kind) {
    case 'constant':
      return `constant(${l.value})`;
    case 'linear':
      return `linear(${l.from}, ${l.to})`;
    case 'poly':
      return `poly(${l.initial}, ${l.exponent})`;
    case 'cosine':
      return `cosine(${l.initial}, ${l.final})`;
  }
}

function optimizer(o: OptimizerSpec): string {
  return o.kind === 'sgd'
    ? `sgd(momentum: ${o.momentum}, nesterov: ${o.nesterov}, weight_decay: ${o.weightDecay})`
    : `adamw(beta1: ${o.beta1}, beta2: ${o.beta2}, weight_decay: ${o.weightDecay})`;
}

function bottleneck(a: ArchitectureSpec): Vec3 {
  const total = [0, 1, 2].map((axis) => a.strides.reduce((p, s) => p * s[axis], 1));
  return [a.patch[0] / total[0], a.patch[1] / total[1], a.patch[2] / total[2]];
}

/** An architecture's resolved topology; `at` says where it was resolved (its own patch, or an experiment's). */
export function architectureFacts(a: ArchitectureSpec, at: string): string[] {
  const lines = [
    `**architecture \`${a.name}\`** (${a.kind}) ${at}`,
    '',
    `- patch ${vec(a.patch)} voxels at spacing ${vec(a.spacing ?? [1, 1, 1])} mm`,
    `- ${a.strides.length} stages, bottleneck ${vec(bottleneck(a))}`,
    `- strides ${a.strides.map(vec).join(' ')}`,
    `- kernels ${(a.kernels ?? []).map(vec).join(' ')}`,
    `- features ${vec(a.features)}`,
  ];
  if (a.blocksPerStage) lines.push(`- residual blocks per stage ${vec(a.blocksPerStage)}`);
  if (a.swin) lines.push(`- feature size ${a.swin.featureSize}, depths ${vec(a.swin.depths)}, heads ${vec(a.swin.heads)}, window ${vec(a.swin.window)}`);
  lines.push(`- deep supervision: ${a.deepSupervision ? 'yes' : 'no'}`);
  return lines;
}

/** Markdown about the declaration `name`, seen from inside `context` (an experiment, or null). */
export function declarationFacts(checked: CheckedProgram, name: string, context: string | null): string | null {
  const sym = checked.symbols.get(name);
  if (sym === undefined) return null;
  const where = `declared in ${sym.file}`;
  const ctx = context === null ? undefined : checked.experiments.get(context);
  switch (sym.kind) {
    case 'architecture': {
      const m = checked.architectures.get(name);
      if (m === undefined) return `**architecture \`${name}\`** (has errors) — ${where}`;
      const lines = architectureFacts(m.spec, `at its own patch and spacing${m.spacing === null ? ' (isotropic: it declares no spacing)' : ''}`);
      const inExperiment = ctx === undefined ? undefined : checked.resolvedArchitectures.get(ctx.name);
      if (inExperiment !== undefined && inExperiment.name === name && JSON.stringify(inExperiment) !== JSON.stringify(m.spec)) {
        lines.push('', ...architectureFacts(inExperiment, `in experiment \`${ctx!.name}\``));
      }
      lines.push('', where);
      return lines.join('\n');
    }
    case 'dataset': {
      const d = checked.datasets.get(name);
      if (d === undefined) return `**dataset \`${name}\`** (has errors) — ${where}`;
      const lines = [`**dataset \`${name}\`**: ${d.spec.classes.length} class${d.spec.classes.length === 1 ? '' : 'es'}, ${d.cases === null ? 'case count not declared' : `${d.cases} cases`}`, '', `root \`${d.spec.root}\``, ''];
      for (const c of d.spec.classes) lines.push(`- \`${c.name}\`: label${c.labels.length === 1 ? '' : 's'} ${c.labels.join(', ')}${c.tags.length > 0 ? ` (${c.tags.join(', ')})` : ''}`);
      const users = ctx !== undefined && ctx.datasets.includes(name) ? [ctx] : [...checked.experiments.values()].filter((e) => e.datasets.includes(name) && e.family === null).slice(0, 5);
      if (users.length > 0) lines.push('');
      for (const e of users) {
        const shares = samplingShares(e.sampling.kind, e.datasets.map((n) => ({ name: n, cases: checked.datasets.get(n)?.cases ?? null })));
        lines.push(`sampling share in \`${e.name}\` (${e.sampling.kind}, ${e.datasets.length} datasets): **${pct(shares[name] ?? 0)}**`);
      }
      lines.push('', where);
      return lines.join('\n');
    }
    case 'schedule': {
      const s = checked.schedules.get(name);
      if (s === undefined) return `**schedule \`${name}\`** (has errors) — ${where}`;
      const lines = [`**schedule \`${name}\`**: ${s.epochs} epochs × ${s.iterationsPerEpoch} iterations`, '', `- optimizer ${optimizer(s.optimizer)}`, `- gradient clip ${s.clipNorm === 0 ? 'off' : s.clipNorm}`];
      s.phases.forEach((p, i) => lines.push(`- phase ${i + 1}: ${p.trains === 'heads' ? 'heads only' : 'whole network'}, ${p.epochs} epochs, lr ${law(p.lr)}`));
      lines.push('', where);
      return lines.join('\n');
    }
    case 'family': {
      const names = checked.families.get(name) ?? [];
      const shown = names.slice(0, 6).map((n) => `\`${n}\``).join(', ');
      return [`**family \`${name}\`**: expands into **${names.length}** experiment${names.length === 1 ? '' : 's'}`, '', `${shown}${names.length > 6 ? ', ...' : ''}`, '', where].join('\n');
    }
    case 'experiment': {
      const e = checked.experiments.get(name);
      if (e === undefined) return `**experiment \`${name}\`** (has errors) — ${where}`;
      const arch = checked.resolvedArchitectures.get(name);
      const lines = [`**experiment \`${name}\`**${e.family ? ` (from family \`${e.family}\`)` : ''}`, '', `- datasets: ${e.datasets.join(', ')}`];
      if (e.pretrained) lines.push(`- fine-tunes \`${e.pretrained}\``);
      if (e.checkpoint) lines.push(`- starts from checkpoint "${e.checkpoint}"`);
      if (arch) lines.push(`- architecture \`${arch.name}\` (${arch.kind}), patch ${vec(arch.patch)} at ${vec(arch.spacing ?? [1, 1, 1])} mm, ${arch.strides.length} stages`);
      if (e.schedule) lines.push(`- schedule \`${e.schedule}\`, batch ${e.batch}, sampling ${e.sampling.kind} (foreground ${e.sampling.foregroundFraction})`);
      lines.push(`- folds ${e.folds[0] === null ? 'none (every case)' : vec(e.folds as number[])}, loss ${e.loss}, precision ${e.precision}`, '', where);
      return lines.join('\n');
    }
    case 'classset': {
      const c = checked.classsets.get(name);
      if (c === undefined) return `**class set \`${name}\`** (has errors) — ${where}`;
      return [`**class set \`${name}\`**: ${c.classes.length} class${c.classes.length === 1 ? '' : 'es'}`, '', c.classes.slice(0, 24).map((x) => `\`${x}\``).join(', ') + (c.classes.length > 24 ? ', ...' : ''), '', where].join('\n');
    }
    case 'sampling': {
      const s = checked.samplings.get(name);
      return s === undefined ? `**sampling \`${name}\`** (has errors) — ${where}` : `**sampling \`${name}\`**: ${s.kind}, foreground ${s.foregroundFraction}\n\n${where}`;
    }
    case 'augmentation': {
      const a = checked.augmentations.get(name);
      if (a === undefined) return `**augmentation \`${name}\`** (has errors) — ${where}`;
      return [`**augmentation \`${name}\`**: ${a.transforms.length} transforms, in this order`, '', ...a.transforms.map((t) => `- ${t.kind} p ${t.p}${t.range ? ` range ${vec(t.range)}` : ''}`), '', where].join('\n');
    }
  }
}

/** A class of a dataset: its labels and tags. */
export function classFacts(checked: CheckedProgram, dataset: string, name: string): string | null {
  const d = checked.datasets.get(dataset);
  const c = d?.spec.classes.find((x) => x.name === name);
  if (c === undefined) return null;
  return `**class \`${dataset}.${name}\`**: label${c.labels.length === 1 ? '' : 's'} ${c.labels.join(', ')} of dataset \`${dataset}\`${c.tags.length > 0 ? `, tagged ${c.tags.join(', ')}` : ''}`;
}

/** A field's documentation: the docs/language.md table row, as markdown. */
export function fieldFacts(block: BlockKind, key: string): string | null {
  const doc = (FIELD_DOCS[block] as Record<string, { value: string; default: string } | undefined>)[key];
  if (doc === undefined) return null;
  return [`**\`${key}\`** — a field of ${block === 'transform' ? 'an augmentation transform' : `a \`${block}\` block`}`, '', doc.value, '', doc.default === '' ? '' : `default: ${doc.default}`, '', `*${BLOCK_DOCS[block]}*`].filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}
