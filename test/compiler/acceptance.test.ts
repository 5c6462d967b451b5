import { describe, expect, it } from 'vitest';
import { compileProgram, hasErrors, loadProgram, renderDiagnostics } from '../../src/compiler/index.js';

/**
 * The acceptance test: a file with a misspelled reference, a missing brace, an unknown
 * keyword and a value of the wrong type reports each one with line:col, in one run.
 */
describe('acceptance fixture', async () => {
  const path = 'test/compiler/fixtures/acceptance.mt';
  const program = await loadProgram(path);
  const { graph, diagnostics } = compileProgram(program);

  it('reports exactly the four mistakes, each at its line:column', () => {
    expect(graph).toBeNull();
    expect(hasErrors(diagnostics)).toBe(true);
    expect(diagnostics.map((d) => [d.code, `${d.span.start.line}:${d.span.start.column}`])).toEqual([
      ['MT0104', '11:1'],  // missing '}' of dataset 'liver'
      ['MT0301', '26:14'], // iterations "many"
      ['MT0201', '31:17'], // livr
      ['MT0203', '35:3'],  // bacth
    ]);
  });

  it('renders them like a compiler', () => {
    const text = renderDiagnostics(diagnostics, program, { color: false });
    expect(text).toContain(`${path}:11:1: error[MT0104]: expected '}' to close dataset 'liver' opened at 7:15, found keyword 'dataset'`);
    expect(text).toContain(`${path}:26:14: error[MT0301]: 'iterations' expects a whole number, found string "many"`);
    expect(text).toContain(`${path}:31:17: error[MT0201]: unknown dataset 'livr'\n  31 |   datasets     [livr, spleen]\n     |                 ^^^^\n   hint: did you mean 'liver'?`);
    expect(text).toContain(`${path}:35:3: error[MT0203]: unknown field 'bacth' in experiment 'demo'`);
    expect(text).toContain("hint: did you mean 'batch'?");
    expect(text.trimEnd().endsWith('4 errors')).toBe(true);
  });
});
