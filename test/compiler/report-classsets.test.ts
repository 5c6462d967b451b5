// Issue #17 item 2: a reported class set never loses classes silently.
import { describe, expect, it } from 'vitest';
import type { ReportStage } from '../../src/graph/index.js';
import { BASE, compileText, diagnosticsOf } from './helpers.js';

const KIDNEY = 'dataset kidney { root "K" cases 9 classes { kidney [1, 2]  kidney_tumour [2] tags [cancer] } }\n';
const reportOf = (graph: { stages: Array<{ kind: string }> } | null) => (graph!.stages.find((s) => s.kind === 'report') as ReportStage).classSets;

describe('class sets reported by an experiment that lacks some of their classes', () => {
  it('MT0409: a class named explicitly but not evaluated is a warning that names it, at the report item', async () => {
    const text = `${BASE}${KIDNEY}classset s { classes [liver.liver_tumour, kidney.kidney] }\nexperiment r extends demo { report [s] }\n`;
    const { graph, diagnostics, program } = await compileText(text);
    expect(diagnostics.map((d) => [d.code, d.severity, d.message])).toEqual([
      ['MT0409', 'warning', "class set 's' names 'kidney.kidney', which experiment 'r' does not evaluate ('kidney' is not among its datasets): the report leaves it out"],
    ]);
    const at = diagnostics[0].span;
    expect(program.sources.get(at.file)!.slice(at.start.offset, at.end.offset)).toBe('s');
    expect(at.start.line).toBe(text.split('\n').findIndex((l) => l.startsWith('experiment r')) + 1);
    expect(diagnostics[0].hint).toBe("the report shows 's' with 1 class (liver.liver_tumour); remove it from the class set, or add 'kidney' to the experiment's datasets");
    // The warning says what the graph does: the set is reported without that class.
    expect(reportOf(graph)![0]).toEqual({ name: 's', classes: ['liver.liver_tumour'] });
  });

  it('naming a whole foreign dataset names its classes', async () => {
    const ds = await diagnosticsOf(`${BASE}${KIDNEY}classset s { classes [spleen, kidney] }\nexperiment r extends demo { report [s] }\n`);
    expect(ds.map((d) => d.message)).toEqual(["class set 's' names 'kidney.kidney', 'kidney.kidney_tumour', which experiment 'r' does not evaluate ('kidney' is not among its datasets): the report leaves them out"]);
  });

  it('classes named through a nested class set are named too', async () => {
    const ds = await diagnosticsOf(`${BASE}${KIDNEY}classset inner { classes [kidney.kidney_tumour] }\nclassset s { classes [inner, spleen] }\nexperiment r extends demo { report [s] }\n`);
    expect(ds.map((d) => d.code)).toEqual(['MT0409']);
  });

  it('MT0410: a reported set with no class of the experiment is an error', async () => {
    const { graph, diagnostics } = await compileText(`${BASE}${KIDNEY}classset s { classes [kidney] }\nexperiment r extends demo { report [s] }\n`);
    expect(graph).toBeNull();
    expect(diagnostics.map((d) => [d.code, d.severity, d.message])).toEqual([
      ['MT0410', 'error', "class set 's' has no class that experiment 'r' evaluates: its 2 classes belong to 'kidney'"],
    ]);
  });

  it('a set selected only by tag is an error too when nothing of it is left', async () => {
    const ds = await diagnosticsOf(`${BASE}${KIDNEY}classset cancer { classes [tagged(cancer)] }\nexperiment r extends demo { datasets [spleen] report [cancer] }\n`);
    expect(ds.map((d) => d.code)).toEqual(['MT0410']);
  });

  it('tagged(...) selects "whichever carry the tag": no warning for the others (the paper\'s md_cancer on one fine-tune target)', async () => {
    const text = `${BASE}${KIDNEY}classset cancer { classes [tagged(cancer)] }\nexperiment ft { pretrained demo datasets [kidney] schedule short report [cancer] }\n`;
    const { graph, diagnostics } = await compileText(text);
    expect(diagnostics).toEqual([]);
    expect(reportOf(graph)).toEqual([{ name: 'cancer', classes: ['kidney.kidney_tumour'] }, { name: 'tag:cancer', classes: ['kidney.kidney_tumour'] }]);
  });

  it('fine-tune targets: classes outside the targets are not evaluated, so not reported', async () => {
    const text = `${BASE}${KIDNEY}classset both { classes [kidney] }\nclassset whole { classes [kidney.kidney] }\n`;
    const ft = (report: string) => `experiment ft { pretrained demo datasets [kidney] schedule short targets [kidney.kidney_tumour] report [${report}] }\n`;
    const warned = await compileText(text.replace('classset whole { classes [kidney.kidney] }\n', '') + ft('both'));
    expect(warned.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['MT0409', "class set 'both' names 'kidney.kidney', which experiment 'ft' does not evaluate (not among its targets): the report leaves it out"],
    ]);
    expect(reportOf(warned.graph)).toEqual([{ name: 'both', classes: ['kidney.kidney_tumour'] }, { name: 'tag:cancer', classes: ['kidney.kidney_tumour'] }]);
    const refused = await diagnosticsOf(text.replace('classset both { classes [kidney] }\n', '') + ft('whole'));
    expect(refused.map((d) => d.code)).toEqual(['MT0410']);
  });

  it('tag groups follow the targets too', async () => {
    const { graph, diagnostics } = await compileText(`${BASE}${KIDNEY}experiment ft { pretrained demo datasets [kidney] schedule short targets [kidney.kidney] }\n`);
    expect(diagnostics).toEqual([]);
    expect(reportOf(graph)).toEqual([]);
  });
});
