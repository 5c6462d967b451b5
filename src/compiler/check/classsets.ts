/**
 * Class sets: `classset NAME { classes [btcv, msd_liver.liver_tumour, tagged(cancer), other_set]  exclude [...] }`.
 * Items: a dataset (all its classes), `dataset.class`, `tagged(TAG, ...)` (every visible class with
 * one of the tags) or another class set. Classes are identified as `dataset.class`.
 */
import type { Declaration, NameValue, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import type { Span } from '../source.js';
import { closest, didYouMean } from '../suggest.js';
import { withArticle } from '../words.js';
import { Fields } from './fields.js';
import type { ClassSetModel, DatasetModel, Symbol } from './model.js';
import { ValueReader } from './values.js';

export interface ClassContext {
  datasets: ReadonlyMap<string, DatasetModel>;
  /** Resolves a plain name visible from the current file; reports unknown names (MT0201/MT0208). */
  resolve: (ref: NameValue, what: string) => Symbol | undefined;
  /** A class set's classes (checked on demand; undefined when it has errors or loops). */
  classset: (name: string, at: NameValue) => ClassSetModel | undefined;
  /** Datasets whose declarations the current file sees. */
  visibleDatasets: () => DatasetModel[];
}

/** What a list of class items selects. */
export interface ClassSelection {
  /** `dataset.class` ids, in order, without duplicates. */
  classes: string[];
  /** For each id, the span of the item that first brought it in (for carets on one item of a list). */
  from: Map<string, Span>;
  /**
   * The ids named explicitly: by a dataset or `dataset.class` item, directly or through a class
   * set. Ids that only `tagged(...)` selected are not in it: a tag selects "whichever classes
   * carry it", so an experiment that has only some of them is expected.
   */
  named: Set<string>;
}

/** Reads a list (or single item) of class items. */
export function readClassItems(sink: DiagnosticSink, v: Value, what: string, ctx: ClassContext): ClassSelection | undefined {
  const r = new ValueReader(sink);
  const items = v.kind === 'list' ? v.items : [v];
  const out: ClassSelection = { classes: [], from: new Map(), named: new Set() };
  let ok = true;
  const add = (ids: readonly string[], at: Span, named: (id: string) => boolean) => {
    for (const id of ids) {
      if (named(id)) out.named.add(id);
      if (out.from.has(id)) continue;
      out.classes.push(id);
      out.from.set(id, at);
    }
  };
  for (const it of items) {
    if (it.kind === 'call' && it.callee.text === 'tagged') {
      const tags: string[] = [];
      for (const a of it.args) {
        if (a.value?.kind === 'name' || a.value?.kind === 'string') tags.push(a.value.kind === 'name' ? a.value.name : a.value.value);
        else if (a.value) {
          r.name(a.value, 'tagged(...)', 'a tag name like cancer');
          ok = false;
        }
      }
      if (tags.length === 0) {
        sink.error('MT0309', it.span, 'tagged(...) needs at least one tag', 'write tagged(cancer)');
        ok = false;
        continue;
      }
      const visible = ctx.visibleDatasets();
      const found = visible.flatMap((d) => d.spec.classes.filter((c) => c.tags.some((t) => tags.includes(t))).map((c) => `${d.spec.name}.${c.name}`));
      if (found.length === 0) {
        const known = [...new Set(visible.flatMap((d) => d.spec.classes.flatMap((c) => c.tags)))];
        sink.error('MT0201', it.span, `no class visible here is tagged ${tags.map((t) => `'${t}'`).join(' or ')}`, didYouMean(tags[0], known) ?? (known.length > 0 ? `tags in use: ${known.join(', ')}` : 'tag classes in their dataset: liver_tumour [2] tags [cancer]'));
        ok = false;
      }
      add(found, it.span, () => false);
      continue;
    }
    const n = r.name(it, what, 'a dataset, dataset.class, a class set or tagged(TAG)');
    if (n === undefined) {
      ok = false;
      continue;
    }
    const dot = n.name.indexOf('.');
    const head: NameValue = dot < 0 ? n : { kind: 'name', name: n.name.slice(0, dot), span: n.span };
    const sym = ctx.resolve(head, what);
    if (sym === undefined) {
      ok = false;
      continue;
    }
    if (sym.kind === 'dataset') {
      const d = ctx.datasets.get(sym.name);
      if (d === undefined) {
        ok = false;
        continue;
      }
      if (dot < 0) {
        add(d.spec.classes.map((c) => `${d.spec.name}.${c.name}`), n.span, () => true);
        continue;
      }
      const cls = n.name.slice(dot + 1);
      if (!d.spec.classes.some((c) => c.name === cls)) {
        const names = d.spec.classes.map((c) => c.name);
        const s = closest(cls, names);
        sink.error('MT0201', n.span, `dataset '${d.spec.name}' has no class '${cls}'`, s ? `did you mean '${d.spec.name}.${s}'?` : `its classes: ${names.join(', ')}`);
        ok = false;
        continue;
      }
      add([`${d.spec.name}.${cls}`], n.span, () => true);
    } else if (sym.kind === 'classset' && dot < 0) {
      const cs = ctx.classset(sym.name, n);
      if (cs === undefined) ok = false;
      else add(cs.classes, n.span, (id) => cs.named.includes(id));
    } else {
      sink.error('MT0302', n.span, `'${n.name}' is ${withArticle(sym.kind)}, but ${what} expects classes: a dataset, dataset.class, a class set or tagged(TAG)`);
      ok = false;
    }
  }
  return ok ? out : undefined;
}

export function checkClassSet(sink: DiagnosticSink, decl: Declaration, name: string, ctx: ClassContext): ClassSetModel | undefined {
  const owner = `classset '${name}'`;
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'classset', decl.body);
  const cV = f.required('classes', 'classes [msd_liver.liver_tumour, kits19.kidney_tumour]');
  const included = cV ? readClassItems(sink, cV, `'classes' of ${owner}`, ctx) : undefined;
  const xV = f.value('exclude', 'exclude [btcv.aorta]');
  const excluded = xV ? readClassItems(sink, xV, `'exclude' of ${owner}`, ctx)?.classes : [];
  if (included === undefined || excluded === undefined) return undefined;
  const classes = included.classes.filter((c) => !excluded.includes(c));
  if (classes.length === 0) {
    sink.error('MT0303', cV!.span, `${owner} holds no class${excluded.length > 0 ? ' once its exclusions are removed' : ''}`, 'a class set needs at least one class');
    return undefined;
  }
  return { name, classes, named: classes.filter((c) => included.named.has(c)), span: decl.name?.span ?? decl.kind.span };
}
