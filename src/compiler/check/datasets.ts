/** `dataset NAME { root ... modality ... cases ... synthetic ... seed ... classes { ... } }`. */
import type { ClassSpec, DatasetSpec } from '../../graph/types.js';
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
    const got = checkClasses(sink, r, classesEntry.block, owner);
    if (got === undefined) ok = false;
    else classes = got;
  }

  if (!ok || root === undefined) return undefined;
  return {
    spec: { name, root, modality: 'CT', classes, synthetic },
    cases: cases ?? null,
  };
}

function checkClasses(sink: DiagnosticSink, r: ValueReader, block: Block, owner: string): ClassSpec[] | undefined {
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
    const labels = classLabels(sink, r, e.value, key);
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

function classLabels(sink: DiagnosticSink, r: ValueReader, v: Value, cls: string): number[] | undefined {
  const items = v.kind === 'list' ? v.items : [v];
  if (v.kind !== 'list' && v.kind !== 'number') {
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
    if (it.kind !== 'number') {
      r.number(it, `class '${cls}'`);
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
