import { describe, expect, it } from 'vitest';
import { renderDiagnostics, summarize, type Diagnostic } from '../../src/compiler/index.js';

const TEXT = 'experiment e {\n\tspacing [4, 4, 4]\n  datasets [livr, spleen]\n}\n';
const d: Diagnostic = {
  code: 'MT0201',
  severity: 'error',
  span: { file: 'experiments/bad.mt', start: { line: 3, column: 13, offset: 45 }, end: { line: 3, column: 17, offset: 49 } },
  message: "unknown dataset 'livr'",
  hint: "did you mean 'liver'?",
};

describe('renderDiagnostics', () => {
  const program = { sources: new Map([['experiments/bad.mt', TEXT]]) };

  it('prints location, code, the source line, a caret under the span and the hint', () => {
    expect(renderDiagnostics([d], program, { color: false })).toBe(
      [
        "experiments/bad.mt:3:13: error[MT0201]: unknown dataset 'livr'",
        '   3 |   datasets [livr, spleen]',
        '     |             ^^^^',
        "   hint: did you mean 'liver'?",
        '',
        '1 error',
        '',
      ].join('\n'),
    );
  });

  it('keeps tabs in the caret line so the caret stays aligned', () => {
    const t: Diagnostic = { ...d, span: { file: 'experiments/bad.mt', start: { line: 2, column: 2, offset: 16 }, end: { line: 2, column: 9, offset: 23 } } };
    const lines = renderDiagnostics([t], program, { color: false }).split('\n');
    expect(lines[2]).toBe('     | \t^^^^^^^');
  });

  it('colours only when asked', () => {
    expect(renderDiagnostics([d], program, { color: true })).toContain('\u001b[31m');
    expect(renderDiagnostics([d], program, { color: false })).not.toContain('\u001b[');
  });

  it('omits the excerpt for an empty span and prints nothing for no diagnostics', () => {
    const e: Diagnostic = { code: 'MT0001', severity: 'error', span: { file: 'x.mt', start: { line: 1, column: 1, offset: 0 }, end: { line: 1, column: 1, offset: 0 } }, message: "cannot read 'x.mt': no such file" };
    expect(renderDiagnostics([e], { sources: new Map([['x.mt', '']]) }, { color: false })).toBe("x.mt:1:1: error[MT0001]: cannot read 'x.mt': no such file\n\n1 error\n");
    expect(renderDiagnostics([], program, { color: false })).toBe('');
  });

  it('summarises counts', () => {
    expect(summarize([d, d, { ...d, severity: 'warning' }])).toBe('2 errors, 1 warning');
  });
});
