import { describe, expect, it } from 'vitest';
import { applyOverrides, compileProgram, EXPLANATIONS, DIAGNOSTIC_CODES, explain, renderDiagnostics } from '../../src/compiler/index.js';
import type { TrainStage } from '../../src/graph/index.js';
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
    const { diagnostics } = await compileWith(['batch', 'shrt.epochs=3', 'short.epochs=3 4', 'demo.evaluation.tta=true']);
    expect(diagnostics.filter((d) => d.code === 'MT0006').map((d) => d.message)).toEqual([
      "--set 'batch' has no '=': write PATH=VALUE",
      "--set: no declaration named 'shrt'",
      "--set short.epochs: '3 4' is not one value",
      "--set: 'demo' has no 'evaluation' block to set 'tta' in",
    ]);
    expect(diagnostics.find((d) => d.message.includes('shrt'))!.hint).toBe("did you mean 'short'?");
  });

  it('an unknown field is reported like in source', async () => {
    const { diagnostics } = await compileWith(['bacth=4']);
    expect(diagnostics.map((d) => [d.code, d.hint])).toEqual([['MT0203', "did you mean 'batch'?"]]);
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
