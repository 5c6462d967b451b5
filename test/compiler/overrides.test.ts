import { describe, expect, it } from 'vitest';
import { applyOverrides, compileProgram, EXPLANATIONS, DIAGNOSTIC_CODES, explain, renderDiagnostics } from '../../src/compiler/index.js';
import type { EvaluateStage, TrainStage } from '../../src/graph/index.js';
import { BASE, programOf } from './helpers.js';

async function compileWith(sets: string[], experiment?: string) {
  const program = await programOf(BASE);
  const o = applyOverrides(program, sets, experiment);
  const r = compileProgram(o.program, experiment === undefined ? {} : { experiment });
  return { ...r, diagnostics: [...o.diagnostics, ...r.diagnostics], program: o.program, original: program };
}

describe('--set overrides (applyOverrides)', () => {
  it('sets a field of the main experiment and of a named declaration', async () => {
    const { graph, diagnostics, original } = await compileWith(['batch=4', 'short.epochs=3', 'small.patch=[16, 16, 16]']);
    expect(diagnostics).toEqual([]);
    const train = graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect([train.batch, train.schedule.epochs, train.architecture.patch]).toEqual([4, 3, [16, 16, 16]]);
    // The original program is untouched.
    expect(compileProgram(original).graph!.stages.find((s) => s.kind === 'train')).toMatchObject({ batch: 2 });
  });

  it('type-checks the value like source and points into --set', async () => {
    const { graph, diagnostics, program } = await compileWith(['batch=4', 'short.iterations="many"']);
    expect(graph).toBeNull();
    expect(diagnostics.map((d) => [d.code, d.span.file, d.span.start.line, d.span.start.column])).toEqual([['MT0301', '--set', 2, 18]]);
    expect(renderDiagnostics(diagnostics, program, { color: false })).toContain('2 | short.iterations="many"\n     |                  ^^^^^^');
  });

  it('MT0006: malformed overrides and unknown declarations', async () => {
    const { diagnostics } = await compileWith(['batch', 'shrt.epochs=3', 'short.epochs=3 4', 'demo.seed.x=1']);
    expect(diagnostics.filter((d) => d.code === 'MT0006').map((d) => d.message)).toEqual([
      "--set 'batch' has no '=': write PATH=VALUE",
      "--set: no declaration or experiment named 'shrt'",
      "--set short.epochs: '3 4' is not one value",
      "--set: 'seed' of experiment 'demo' is a value, not a block with 'x' in it",
    ]);
    expect(diagnostics.find((d) => d.message.includes('shrt'))!.hint).toBe("did you mean 'short'?");
  });

  it('an unknown field is reported like in source', async () => {
    const { diagnostics } = await compileWith(['bacth=4']);
    expect(diagnostics.map((d) => [d.code, d.hint])).toEqual([['MT0203', "did you mean 'batch'?"]]);
  });
});

describe('--set on family expansions (issue #17)', () => {
  const FAMILY = `${BASE}\nfamily per extends demo { datasets each(liver, spleen) folds each(0, 1) }\n`;
  async function compileFamily(sets: string[], experiment?: string) {
    const o = applyOverrides(await programOf(FAMILY), sets, experiment);
    const r = compileProgram(o.program, experiment === undefined ? {} : { experiment });
    return { ...r, diagnostics: [...o.diagnostics, ...r.diagnostics] };
  }
  const trainOf = (graph: { stages: Array<{ kind: string }> } | null) => graph!.stages.find((s) => s.kind === 'train') as TrainStage;

  it('a bare FIELD applies to the main experiment when the file ends with a family (its last expansion)', async () => {
    const { graph, diagnostics } = await compileFamily(['batch=4']);
    expect(diagnostics).toEqual([]);
    expect([graph!.source.experiments[0], trainOf(graph).batch]).toEqual(['per_spleen_fold1', 4]);
  });

  it('a bare FIELD applies to the expansion that -e selects, and only to it', async () => {
    const program = applyOverrides(await programOf(FAMILY), ['batch=5', 'evaluation.tta=true'], 'per_liver_fold0').program;
    const chosen = compileProgram(program, { experiment: 'per_liver_fold0' });
    expect(chosen.diagnostics).toEqual([]);
    expect(trainOf(chosen.graph).batch).toBe(5);
    expect((chosen.graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage).inference.mirror).toBe(true);
    const other = compileProgram(program, { experiment: 'per_liver_fold1' });
    expect(trainOf(other.graph).batch).toBe(2);
  });

  it('MEMBER.FIELD and MEMBER.BLOCK.FIELD name one expansion', async () => {
    const { graph, diagnostics } = await compileFamily(['per_liver_fold1.batch=6', 'per_liver_fold1.evaluation={ step 0.25 }'], 'per_liver_fold1');
    expect(diagnostics).toEqual([]);
    expect(trainOf(graph).batch).toBe(6);
    expect((graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage).inference.stepFraction).toBe(0.25);
  });

  it('FAMILY.FIELD applies to every expansion', async () => {
    for (const e of ['per_liver_fold0', 'per_spleen_fold1']) {
      const { graph, diagnostics } = await compileFamily(['per.batch=3'], e);
      expect(diagnostics).toEqual([]);
      expect(trainOf(graph).batch).toBe(3);
    }
  });

  it('an override of an expansion is type-checked like source, pointing into --set', async () => {
    const { diagnostics } = await compileFamily(['per_liver_fold0.batch=0', 'per_livr_fold0.batch=2'], 'per_liver_fold0');
    expect(diagnostics.map((d) => [d.code, d.span.file, d.span.start.line, d.hint ?? null])).toEqual([
      ['MT0006', '--set', 2, "did you mean 'per_liver_fold0'?"],
      ['MT0303', '--set', 1, 'the number of patches per training step'],
    ].sort((a, b) => (a[0] as string).localeCompare(b[0] as string)));
  });

  it('an expansion that the other overrides remove is reported', async () => {
    const { diagnostics } = await compileFamily(['per.datasets=each(spleen)', 'per_liver_fold0.batch=3'], 'per_spleen_fold0');
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([['MT0006', "--set: family 'per' no longer expands to 'per_liver_fold0' once the other overrides are applied"]]);
  });
});

describe('--set through references and blocks (issue #17)', () => {
  it("MT0006: a path through a reference names the referenced declaration's override", async () => {
    const { diagnostics } = await compileWith(['demo.schedule.epochs=10']);
    expect(diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
      ['MT0006', "--set: 'schedule' of experiment 'demo' is not a block: it names 'short'", "set the field of 'short' itself: --set short.epochs=10"],
    ]);
    // The suggested override works.
    expect((await compileWith(['short.epochs=10'])).diagnostics).toEqual([]);
  });

  it("MT0006: a fine-tune's architecture is named through its pre-training", async () => {
    const program = await programOf(`${BASE}\ndataset kidney { root "K" cases 3 classes { kidney [1] } }\nexperiment ft { pretrained demo datasets [kidney] schedule short }\n`);
    const o = applyOverrides(program, ['ft.architecture.patch=[16, 16, 16]']);
    expect(o.diagnostics.map((d) => d.hint)).toEqual(["a fine-tune uses the architecture of the experiment it starts from, 'small': --set small.patch=[16, 16, 16]"]);
  });

  it('a block value replaces the whole block and is type-checked like source', async () => {
    const ok = await compileWith(['evaluation={ tta true  metrics [dice, hd95] }']);
    expect(ok.diagnostics).toEqual([]);
    const ev = ok.graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage;
    expect([ev.inference.mirror, ev.inference.stepFraction, ev.metrics]).toEqual([true, 0.5, ['dice', 'hd95']]);
    const bad = await compileWith(['evaluation={ tta 3  stepp 0.5 }']);
    expect(bad.diagnostics.map((d) => [d.code, d.span.file, d.span.start.column])).toEqual([['MT0203', '--set', 21], ['MT0301', '--set', 18]].sort((a, b) => (a[2] as number) - (b[2] as number)));
    expect(renderDiagnostics(bad.diagnostics, bad.program, { color: false })).toContain('1 | evaluation={ tta 3  stepp 0.5 }\n     |                  ^');
  });

  it('blocks of other declarations: a transform of an augmentation profile, a dataset\'s classes', async () => {
    const program = await programOf(`${BASE}\naugmentation aug { rotation { p 0.2 range [-30, 30] } mirror { p 0.5 } }\nexperiment r extends demo { augmentation aug }\n`);
    const o = applyOverrides(program, ['aug.rotation={ p 0.1  range [-10, 10] }', 'aug.mirror.p=0.25', 'spleen.classes={ spleen [1]  hilum [2] }']);
    const r = compileProgram(o.program);
    expect([...o.diagnostics, ...r.diagnostics]).toEqual([]);
    const train = r.graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    expect(train.augmentation!.transforms.map((t) => [t.kind, t.p, t.range ?? null])).toEqual([['rotation', 0.1, [-10, 10]], ['mirror', 0.25, null]]);
    expect(train.heads.map((h) => h.name)).toEqual(['liver', 'liver_tumour', 'spleen', 'hilum']);
  });

  it('NAME.BLOCK.FIELD on an experiment that inherits the block changes a copy of it, not the parent', async () => {
    const program = await programOf(`${BASE}\nexperiment child extends demo { batch 3 }\n`.replace('seed         7', 'seed 7 evaluation { tta true  step 0.5 }'));
    const o = applyOverrides(program, ['child.evaluation.step=0.25'], 'child');
    const child = compileProgram(o.program, { experiment: 'child' });
    expect([...o.diagnostics, ...child.diagnostics]).toEqual([]);
    expect((child.graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage).inference).toEqual({ stepFraction: 0.25, gaussian: true, mirror: true });
    const parent = compileProgram(o.program, { experiment: 'demo' });
    expect((parent.graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage).inference.stepFraction).toBe(0.5);
  });

  it('FIELD.SUBFIELD is the main experiment\'s (field words name no declaration); a missing block is created', async () => {
    const { graph, diagnostics } = await compileWith(['evaluation.step=0.25']);
    expect(diagnostics).toEqual([]);
    expect((graph!.stages.find((s) => s.kind === 'evaluate') as EvaluateStage).inference.stepFraction).toBe(0.25);
  });
});

describe('mtc explain', () => {
  it('has a text and an example for every code', () => {
    for (const code of Object.keys(DIAGNOSTIC_CODES) as Array<keyof typeof DIAGNOSTIC_CODES>) {
      expect(EXPLANATIONS[code].text.length, code).toBeGreaterThan(20);
      expect(EXPLANATIONS[code].example.length, code).toBeGreaterThan(0);
      expect(explain(code)).toContain(`${code}: ${DIAGNOSTIC_CODES[code]}`);
    }
  });

  it('accepts lower case and a missing MT, and rejects unknown codes', () => {
    expect(explain('mt0404')).toContain('Fine-tuning leakage');
    expect(explain('0201')).toContain('MT0201: unknown name');
    expect(explain('MT9999')).toBeNull();
  });
});
