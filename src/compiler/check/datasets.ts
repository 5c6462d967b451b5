/** `dataset NAME { root ... modality ... cases ... synthetic ... seed ... labels { ... } classes { ... } split ... }`. */
import type { ClassSpec, DatasetSpec } from '../../graph/types.js';
import { didYouMean } from '../suggest.js';
import type { Block, Declaration, Value } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { Fields } from './fields.js';
import type { DatasetModel } from './model.js';
import { ValueReader } from './values.js';

/** Synthetic generators the runtime provides. */
export const SYNTHETIC_GENERATORS = ['quickstart'] as const;
/** Label maps are stored as 8-bit integers. */
export const MAX_LABEL = 255;

export function checkDataset(sink: DiagnosticSink, decl: Declaration, name: string): DatasetModel | undefined {
  const owner = `dataset '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'dataset', decl.body);
  let ok = true;
  const need = <T>(v: T | undefined): T | undefined => {
    if (v === undefined) ok = false;
    return v;
  };

  const rootV = f.required('root', 'root "Dataset001_Liver"');
  let root = rootV ? need(r.string(rootV, "'root'")) : need(undefined);
  if (root !== undefined && root.trim() === '') {
    sink.error('MT0303', rootV!.span, "'root' is empty", 'give the nnU-Net raw dataset folder, e.g. "Dataset001_Liver"');
    root = need(undefined);
  }

  const modV = f.value('modality', 'modality CT');
  if (modV) need(r.option(modV, 'modality', ['CT'] as const, { MR: 'only CT datasets are supported (CT normalisation)', MRI: 'only CT datasets are supported (CT normalisation)', PET: 'only CT datasets are supported' }));

  const casesV = f.value('cases', 'cases 131');
  const cases = casesV ? need(r.integer(casesV, "'cases'", 1, 'the number of training cases the dataset holds')) : undefined;

  let synthetic: DatasetSpec['synthetic'] = null;
  const synV = f.value('synthetic', 'synthetic quickstart seed 2026');
  const seedEntry = f.entry('seed');
  const seedV = f.value('seed', 'seed 2026');
  const seed = seedV ? need(r.integer(seedV, "'seed'", 0)) : undefined;
  if (synV) {
    const gen = need(r.option(synV, 'synthetic generator', SYNTHETIC_GENERATORS));
    if (gen !== undefined) synthetic = { generator: gen, seed: seed ?? 0 };
  } else if (seedEntry && !f.has('synthetic')) {
    sink.error('MT0311', seedEntry.key.span, `'seed' in a dataset is the seed of its synthetic generator, but ${owner} has no 'synthetic' field`, "add 'synthetic quickstart', or move 'seed' into the experiment");
    ok = false;
  }

  const splitV = f.value('split', 'split "splits_final.json"');
  const split = splitV ? need(r.string(splitV, "'split'")) : null;

  let labels: Map<string, number> | null = null;
  const labelsEntry = f.entry('labels');
  if (labelsEntry !== undefined) {
    if (labelsEntry.block === null || labelsEntry.value !== null) {
      sink.error('MT0301', labelsEntry.value?.span ?? labelsEntry.key.span, "'labels' expects a block of label values { background 0  liver 1 ... }", 'write: labels { background 0  liver 1  tumour 2 }');
      ok = false;
    } else {
      labels = checkLabels(sink, r, labelsEntry.block, owner);
      if (labels === null) ok = false;
    }
  }

  const classesEntry = f.entry('classes');
  let classes: ClassSpec[] = [];
  if (classesEntry === undefined) {
    sink.error('MT0304', decl.name?.span ?? decl.kind.span, `${owner} is missing 'classes'`, 'add: classes { liver [1, 2]  liver_tumour [2] }');
    ok = false;
  } else if (classesEntry.block === null) {
    sink.error('MT0301', classesEntry.value?.span ?? classesEntry.key.span, "'classes' expects a block of classes { name [labels] ... }", 'write: classes { liver [1, 2]  liver_tumour [2] }');
    ok = false;
  } else {
    if (classesEntry.value !== null) {
      sink.error('MT0311', classesEntry.value.span, "'classes' takes a block only", 'write: classes { liver [1, 2] }');
      ok = false;
    }
    const got = checkClasses(sink, r, classesEntry.block, owner, labels);
    if (got === undefined) ok = false;
    else classes = got;
  }

  if (!ok || root === undefined) return undefined;
  return {
    spec: { name, root, modality: 'CT', classes, synthetic, cases: cases ?? null, labels: Object.fromEntries(labels ?? []), splitFile: split ?? null },
    cases: cases ?? null,
  };
}

/** `labels { background 0  liver 1  tumour 2 }`: the label values the dataset's label files use. */
function checkLabels(sink: DiagnosticSink, r: ValueReader, block: Block, owner: string): Map<string, number> | null {
  const out = new Map<string, number>();
  const byValue = new Map<number, string>();
  let ok = true;
  for (const e of block.entries) {
    const key = e.key.text;
    if (e.value === null || e.block !== null) {
      sink.error(e.value === null ? 'MT0106' : 'MT0311', e.key.span, `label '${key}' needs its value`, `write: ${key} 1`);
      ok = false;
      continue;
    }
    const v = r.integer(e.value, `label '${key}'`, 0);
    if (v === undefined) {
      ok = false;
      continue;
    }
    if (v > MAX_LABEL) {
      sink.error('MT0310', e.value.span, `label value ${v} of '${key}' is above ${MAX_LABEL}`, 'label maps are stored as 8-bit integers');
      ok = false;
    } else if (out.has(key)) {
      sink.error('MT0206', e.key.span, `label '${key}' is declared twice in ${owner}`);
      ok = false;
    } else if (byValue.has(v)) {
      sink.error('MT0206', e.value.span, `label value ${v} is given to both '${byValue.get(v)}' and '${key}' in ${owner}`, 'every label value has one name');
      ok = false;
    } else {
      out.set(key, v);
      byValue.set(v, key);
    }
  }
  return ok ? out : null;
}

function checkClasses(sink: DiagnosticSink, r: ValueReader, block: Block, owner: string, declared: Map<string, number> | null): ClassSpec[] | undefined {
  const out: ClassSpec[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  let last: ClassSpec | null = null;
  for (const e of block.entries) {
    const key = e.key.text;
    if (key === 'tags') {
      if (last === null) {
        sink.error('MT0311', e.key.span, "'tags' must follow a class", 'write: liver_tumour [2] tags [cancer]');
        ok = false;
        continue;
      }
      if (e.value === null) {
        sink.error('MT0106', e.key.span, "'tags' needs a value", 'write: tags [cancer]');
        ok = false;
        continue;
      }
      const items: Value[] = e.value.kind === 'list' ? e.value.items : [e.value];
      for (const t of items) {
        if (t.kind === 'name' || t.kind === 'string') {
          const tag = t.kind === 'name' ? t.name : t.value;
          if (!last.tags.includes(tag)) last.tags.push(tag);
        } else {
          sink.error('MT0301', t.span, `a tag is a name like cancer or "difficult", found ${t.kind === 'number' ? `number ${t.text}` : t.kind}`);
          ok = false;
        }
      }
      continue;
    }
    if (e.block !== null) {
      sink.error('MT0311', e.block.span, `class '${key}' takes its label values, not a block`, `write: ${key} [1, 2]`);
      ok = false;
    }
    if (e.value === null) {
      if (e.block === null) sink.error('MT0106', e.key.span, `class '${key}' needs its label values`, `write: ${key} [1]  or, for a region of several labels, ${key} [1, 2]`);
      ok = false;
      last = null;
      continue;
    }
    const labels = classLabels(sink, r, e.value, key, declared, owner);
    const first = seen.get(key);
    if (first !== undefined) {
      sink.error('MT0206', e.key.span, `class '${key}' is declared twice in ${owner} (first at line ${first})`, 'a region of several labels is written once: name [1, 2]');
      ok = false;
      last = null;
      continue;
    }
    seen.set(key, e.key.span.start.line);
    if (labels === undefined) {
      ok = false;
      last = null;
      continue;
    }
    last = { name: key, labels, tags: [] };
    out.push(last);
  }
  if (out.length === 0 && ok) {
    sink.error('MT0304', block.span, `${owner} declares no classes`, 'add at least one: classes { liver [1] }');
    return undefined;
  }
  return ok ? out : undefined;
}

function classLabels(sink: DiagnosticSink, r: ValueReader, v: Value, cls: string, declared: Map<string, number> | null, owner: string): number[] | undefined {
  const items = (v.kind === 'list' ? v.items : [v]).map((it): Value => {
    if (it.kind !== 'name' || declared === null) return it;
    const n = declared.get(it.name);
    if (n === undefined) return it;
    return { kind: 'number', value: n, text: String(n), span: it.span };
  });
  if (v.kind !== 'list' && v.kind !== 'number' && !(v.kind === 'name' && declared !== null)) {
    r.list(v, `class '${cls}'`, 'label values');
    return undefined;
  }
  if (items.length === 0) {
    sink.error('MT0310', v.span, `class '${cls}' has no label values`, `write: ${cls} [1]`);
    return undefined;
  }
  const labels: number[] = [];
  let ok = true;
  for (const it of items) {
    if (it.kind === 'name') {
      const names = declared === null ? [] : [...declared.keys()];
      sink.error('MT0201', it.span, declared === null ? `class '${cls}' names label '${it.name}', but ${owner} declares no labels` : `unknown label '${it.name}' in class '${cls}'`, declared === null ? 'declare them: labels { background 0  liver 1 }, or write the label value' : (didYouMean(it.name, names) ?? `labels of ${owner}: ${names.join(', ')}`));
      ok = false;
      continue;
    }
    if (it.kind !== 'number') {
      r.number(it, `class '${cls}'`);
      ok = false;
      continue;
    }
    if (declared !== null && Number.isInteger(it.value) && it.value > 0 && ![...declared.values()].includes(it.value)) {
      const values = [...declared.entries()].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
      sink.error('MT0312', it.span, `class '${cls}' names label value ${it.text}, which ${owner} does not declare`, `declared labels: ${values.join(', ')}`);
      ok = false;
      continue;
    }
    if (!Number.isInteger(it.value) || it.value < 0 || it.value > MAX_LABEL) {
      sink.error('MT0310', it.span, `label ${it.text} of class '${cls}' is not a label value (whole numbers 1 to ${MAX_LABEL})`);
      ok = false;
    } else if (it.value === 0) {
      sink.error('MT0310', it.span, `label 0 is the background and cannot belong to class '${cls}'`, 'classes list the foreground label values they cover');
      ok = false;
    } else if (labels.includes(it.value)) {
      sink.error('MT0206', it.span, `label ${it.text} is listed twice in class '${cls}'`);
      ok = false;
    } else labels.push(it.value);
  }
  return ok ? labels : undefined;
}
