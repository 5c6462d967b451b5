import { describe, expect, it } from 'vitest';
import { checkProgram, compileProgram, loadProgramWith, memoryHost, type Diagnostic } from '../../src/compiler/index.js';
import { BASE, compileText, diagnosticsOf, programOf } from './helpers.js';

/** Replaces exactly one occurrence (fails loudly if the test's anchor text is absent). */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`test bug: '${from}' not in the base program`);
  return text.replace(from, to);
}

function only(ds: Diagnostic[], code: string): Diagnostic {
  const found = ds.filter((d) => d.code === code);
  expect(found.map((d) => d.code), JSON.stringify(ds.map((d) => [d.code, d.message]))).toEqual([code]);
  return found[0];
}

/** Line and column of the first occurrence of `needle` in `text` (1-based). */
function lineCol(text: string, needle: string): [number, number] {
  const at = text.indexOf(needle);
  const before = text.slice(0, at).split('\n');
  return [before.length, before[before.length - 1].length + 1];
}

interface Case {
  code: string;
  title: string;
  text: string;
  /** Where the diagnostic must point: the first occurrence of this text. */
  at?: string;
  message?: string;
  hint?: string;
  severity?: 'warning';
}

const cases: Case[] = [
  { code: 'MT0101', title: 'unexpected character', text: edit(BASE, 'seed         7', 'seed = 7'), at: '= 7', hint: "fields are written 'name value' without '='" },
  { code: 'MT0102', title: 'unterminated string', text: edit(BASE, '"Dataset009_Spleen"', '"Dataset009_Spleen'), at: '"Dataset009_Spleen' },
  { code: 'MT0103', title: 'stray token at the top level', text: `${BASE}\n}\n`, message: "unexpected '}': there is no open block to close" },
  { code: 'MT0104', title: 'unclosed block', text: edit(BASE, 'classes { spleen [1] }\n}', 'classes { spleen [1] }\n'), at: 'architecture small', message: "expected '}' to close dataset 'spleen' opened at 11:16, found keyword 'architecture'" },
  { code: 'MT0105', title: 'reserved word as a name', text: edit(BASE, 'schedule short {', 'schedule epochs {'), at: 'epochs {', message: "'epochs' is a reserved word and cannot name a schedule" },
  { code: 'MT0106', title: 'field without a value', text: edit(BASE, 'epochs     10', 'epochs'), at: 'epochs\n', message: "'epochs' needs a value" },
  { code: 'MT0201', title: 'unknown name with did-you-mean', text: edit(BASE, 'schedule     short', 'schedule     shrt'), at: 'shrt', message: "unknown schedule 'shrt'", hint: "did you mean 'short'?" },
  { code: 'MT0202', title: 'duplicate declaration', text: `${BASE}\nschedule small { epochs 3 }\n`, at: 'small { epochs', message: "'small' is already declared as an architecture at /mem/main.mt:17:14" },
  { code: 'MT0203', title: 'unknown field with did-you-mean', text: edit(BASE, 'iterations 5', 'iteratons 5'), at: 'iteratons', hint: "did you mean 'iterations'?" },
  { code: 'MT0204', title: 'unknown declaration kind', text: `${BASE}\ndatset extra { root "x" }\n`, at: 'datset', hint: "did you mean 'dataset'?" },
  { code: 'MT0205', title: 'field given twice', text: edit(BASE, 'iterations 5', 'iterations 5\n  iterations 6'), at: 'iterations 6' },
  { code: 'MT0206', title: 'dataset listed twice', text: edit(BASE, '[liver, spleen]', '[liver, spleen, liver]'), at: 'liver]', message: "dataset 'liver' is listed twice in experiment 'demo'" },
  { code: 'MT0209', title: 'declaration without a name', text: `${BASE}\nschedule { epochs 3 }\n`, message: 'this schedule has no name' },
  { code: 'MT0301', title: 'string where a number is expected', text: edit(BASE, 'iterations 5', 'iterations "5"'), at: '"5"', message: `'iterations' expects a whole number, found string "5"`, hint: 'remove the quotes: 5' },
  { code: 'MT0302', title: 'schedule where an architecture is expected', text: edit(BASE, 'architecture small\n', 'architecture short\n'), at: 'short\n', message: "'short' is a schedule, but 'architecture' expects an architecture" },
  { code: 'MT0303', title: 'batch below 1', text: edit(BASE, 'seed         7', 'seed 7 batch 0'), at: '0\n}', message: "'batch' must be at least 1, found 0" },
  { code: 'MT0303', title: 'probability outside [0, 1]', text: edit(BASE, 'seed         7', 'seed 7 foreground 1.5'), at: '1.5', message: "'foreground' must be between 0 and 1, found 1.5" },
  { code: 'MT0304', title: 'missing required field', text: edit(BASE, '  root "Dataset009_Spleen"\n', ''), at: 'spleen {', message: "dataset 'spleen' is missing 'root'" },
  { code: 'MT0305', title: 'patch not divisible by the total stride', text: edit(BASE, 'patch    [32, 32, 32]', 'patch    [36, 32, 32]'), at: '36', message: 'patch size 36 on axis z is not divisible by the total stride 8 (derived strides on z: 1 x 2 x 2 x 2)', hint: "use a multiple of 8 on z, e.g. 32 or 40, or give 'strides' explicitly" },
  { code: 'MT0306', title: 'strides do not match features', text: edit(BASE, 'features [8, 16, 32, 64]', 'features [8, 16, 32, 64]\n  strides [[1, 1, 1], [2, 2, 2]]'), at: '[[1', message: "'strides' has 2 stages but 'features' has 4" },
  { code: 'MT0307', title: 'phase epochs exceed the total', text: edit(BASE, 'iterations 5', 'iterations 5\n  phase heads { epochs 4 }\n  phase all { epochs 8 }'), at: '8 }', message: "the phases of schedule 'short' reach 12 epochs here, more than its 10 epochs" },
  { code: 'MT0308', title: 'unknown option with did-you-mean', text: edit(BASE, 'seed         7', 'seed 7 sampling inverse_sqr'), at: 'inverse_sqr', hint: "did you mean 'inverse_sqrt'?" },
  { code: 'MT0309', title: 'too many arguments', text: edit(BASE, 'iterations 5', 'iterations 5 lr poly(0.01, 0.9, 3)'), at: '3)', message: 'poly(...) takes at most 2 arguments (initial, exponent)' },
  { code: 'MT0309', title: 'unknown named argument', text: edit(BASE, 'iterations 5', 'iterations 5 optimizer sgd(momentun: 0.9)'), at: 'momentun', hint: "did you mean 'momentum'?" },
  { code: 'MT0310', title: 'background label in a class', text: edit(BASE, 'spleen [1]', 'spleen [0]'), at: '0]', message: "label 0 is the background and cannot belong to class 'spleen'" },
  { code: 'MT0311', title: 'seed in a dataset without synthetic', text: edit(BASE, 'cases 4', 'cases 4 seed 1'), at: 'seed 1' },
  { code: 'MT0402', title: 'fine-tune with another spacing', text: `${BASE}\nexperiment ft { pretrained demo datasets [spleen] schedule short spacing [2, 2, 2] }\n`, at: '[2, 2, 2]' },
  { code: 'MT0403', title: 'pre-training loop', text: `${BASE}\nexperiment a { pretrained b datasets [spleen] schedule short }\nexperiment b { pretrained a datasets [liver] schedule short }\n`, message: 'pre-training loops: a -> b -> a' },
  { code: 'MT0404', title: 'fine-tuning leakage is an error', text: `${BASE}\nexperiment ft { pretrained demo datasets [spleen] schedule short }\n`, at: 'demo datasets [spleen]', message: "fine-tuning leakage: 'spleen' of 'ft' was already used to pre-train 'demo'" },
  { code: 'MT0405', title: 'fine-tune with another architecture', text: `${BASE}\ndataset kidney { root "K" cases 3 classes { kidney [1] } }\narchitecture big { patch [64, 64, 64] features [8, 16, 32, 64] }\nexperiment ft { pretrained demo architecture big datasets [kidney] schedule short }\n`, at: 'big datasets' },
  { code: 'MT0406', title: 'cases missing for some datasets', severity: 'warning', text: edit(BASE, '  cases 4\n', ''), at: 'demo {', message: "datasets 'spleen' of 'demo' declare no 'cases', so the sampling shares shown in the graph treat all datasets as equally large" },
];

describe('checker: one diagnostic per code', () => {
  it('accepts the base program', async () => {
    expect(await diagnosticsOf(BASE)).toEqual([]);
  });

  for (const c of cases) {
    it(`${c.code}: ${c.title}`, async () => {
      const ds = await diagnosticsOf(c.text);
      const d = only(ds, c.code);
      expect(d.severity).toBe(c.severity ?? 'error');
      expect(d.span.file).toBe('/mem/main.mt');
      if (c.at !== undefined) {
        const [line, column] = lineCol(c.text, c.at);
        expect([d.span.start.line, d.span.start.column]).toEqual([line, column]);
      }
      if (c.message !== undefined) expect(d.message).toBe(c.message);
      if (c.hint !== undefined) expect(d.hint).toBe(c.hint);
    });
  }
});

describe('checker: program-level and loader codes', () => {
  it('MT0001: entry file that does not exist', async () => {
    const program = await loadProgramWith('/mem/nope.mt', memoryHost({}));
    const d = only(checkProgram(program).diagnostics, 'MT0001');
    expect(d.message).toBe("cannot read '/mem/nope.mt': no such file");
  });

  it('MT0002: import not found, relative and std', async () => {
    const ds = await diagnosticsOf(`import "common.mt"\nimport "std/schedulez"\n${BASE}`, {}).then((x) => x);
    const found = ds.filter((d) => d.code === 'MT0002');
    expect(found.map((d) => d.message)).toEqual(["cannot import 'common.mt': no such file (looked for /mem/common.mt)", "no stdlib module 'schedulez'"]);
    expect(found[0].span.start).toMatchObject({ line: 1, column: 8 });
  });

  it('MT0002: std import suggests the closest module', async () => {
    const program = await programOf('import "std/schedulez"\n', {}, { schedules: 'schedule s { epochs 1 }' });
    expect(program.diagnostics[0].hint).toBe("did you mean 'schedules'?");
  });

  it('MT0003: import cycle is reported, not followed forever', async () => {
    const program = await programOf(`import "a.mt"\n${BASE}`, { '/mem/a.mt': 'import "b.mt"\n', '/mem/b.mt': 'import "a.mt"\n' });
    const d = only(checkProgram(program).diagnostics, 'MT0003');
    expect(d.message).toBe('import cycle: /mem/a.mt -> /mem/b.mt -> /mem/a.mt');
    expect(d.span.file).toBe('/mem/b.mt');
  });

  it('MT0007: an import of a file that is not .mt is refused before it is read (test/trust/imports.test.ts has more)', async () => {
    const program = await programOf('import "./token.txt"\n', { '/mem/token.txt': 'secret-token = 1' });
    const d = only(program.diagnostics, 'MT0007');
    expect(d.message).toBe("cannot import './token.txt': only .mt files can be imported");
    expect([...program.files.keys()]).toEqual(['/mem/main.mt']);
  });

  it('MT0004 and MT0005: binary and empty files', async () => {
    expect(only(await diagnosticsOf('\u0000\u0001binary'), 'MT0004').severity).toBe('error');
    expect(only(await diagnosticsOf('  \n'), 'MT0005').severity).toBe('warning');
  });

  it('MT0207: unknown experiment requested', async () => {
    const { graph, diagnostics } = await compileText(BASE, 'dmo');
    expect(graph).toBeNull();
    expect(only(diagnostics, 'MT0207').hint).toBe("did you mean 'demo'?");
  });

  it('MT0208: name declared in a file that is not imported', async () => {
    const program = await programOf(`import "a.mt"\n${BASE.replace('[liver, spleen]', '[liver, spleen, kidney]')}`, {
      '/mem/a.mt': 'import "b.mt"\n',
      '/mem/b.mt': 'dataset kidney { root "K" cases 5 classes { kidney [1] } }\n',
    });
    // b.mt is imported by a.mt, so it is visible transitively: no error.
    expect(checkProgram(program).diagnostics).toEqual([]);
    const program2 = await programOf(`import "a.mt"\n${BASE}`, {
      '/mem/a.mt': 'architecture a2 { patch [8, 8, 8] features [4, 8] }\nschedule s2 { epochs 1 }\nexperiment e2 { datasets [liver] architecture a2 schedule s2 spacing [1, 1, 1] }\n',
    });
    const d = only(checkProgram(program2).diagnostics, 'MT0208');
    expect(d.message).toBe("dataset 'liver' is declared in /mem/main.mt, which this file does not import");
  });

  it('MT0401: entry without an experiment', async () => {
    const { graph, diagnostics } = await compileText(BASE.replace(/experiment demo \{[\s\S]*\}/, ''));
    expect(graph).toBeNull();
    only(diagnostics, 'MT0401');
  });

  it('reports every error of a broken file in one run', async () => {
    const text = edit(edit(edit(BASE, 'iterations 5', 'iterations "x"'), 'spleen [1]', 'spleen [0]'), 'schedule     short', 'schedule     shrt');
    const ds = await diagnosticsOf(text);
    expect(ds.map((d) => d.code).sort()).toEqual(['MT0201', 'MT0301', 'MT0310']);
  });

  it('suggests the right kind of name for a misspelt reference', async () => {
    const ds = await diagnosticsOf(edit(BASE, 'architecture small\n', 'architecture smal\n'));
    expect(only(ds, 'MT0201').hint).toBe("did you mean 'small'?");
  });

  it('compileProgram returns no graph when there are errors', async () => {
    const { graph } = await compileText(edit(BASE, 'iterations 5', 'iterations 0'));
    expect(graph).toBeNull();
  });

  it('warnings do not block the graph', async () => {
    const r = compileProgram(await programOf(edit(BASE, '  cases 4\n', '')));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['MT0406']);
    expect(r.graph).not.toBeNull();
  });
});
