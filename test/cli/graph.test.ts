import { describe, expect, it } from 'vitest';
import { graphCommand } from '../../src/cli/commands/graph.js';
import { checkCommand } from '../../src/cli/commands/check.js';
import { compileCommand } from '../../src/cli/commands/compile.js';
import { ioParts } from './helpers.js';

const io = () => ioParts();

describe('mtc graph', () => {
  it('prints the stage graph as Mermaid', async () => {
    const { cli, out } = io();
    expect(await graphCommand('experiments/quickstart.mt', { format: 'mermaid' }, cli)).toBe(0);
    const text = out.join('\n');
    expect(text.startsWith('flowchart TD\n')).toBe(true);
    expect(text).toContain('s6["<b>train:quickstart_pretrain</b><br/>unet quickstart_unet, 8 heads, 15 epochs, batch 2, multitalent, every case"]');
    expect(text).toContain('  s5 --> s6');
    // What the fine-tune takes from the pre-training is explicit: its backbone and its CT statistics.
    expect(text).toContain('  s6 -- backbone --> s8');
    expect(text).toContain('  s5 -- CT statistics --> s7');
    expect(text.match(/-->/g)!.length).toBe(12);
  });

  it('prints the stage graph as DOT, honouring --set', async () => {
    const { cli, out } = io();
    expect(await graphCommand('experiments/quickstart.mt', { format: 'dot', set: ['short_pretrain.epochs=5'] }, cli)).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('digraph "quickstart" {');
    expect(text).toContain('5 epochs');
    expect(text).toContain('  s6 -> s8 [label="backbone"];');
  });
});

describe('mtc check --format json and compile --set', () => {
  it('prints code, severity, file, range, message and hint', async () => {
    const { cli, out } = io();
    expect(await checkCommand(['test/compiler/fixtures/acceptance.mt'], { format: 'json' }, cli)).toBe(1);
    const report = JSON.parse(out.join('\n')) as { files: string[]; errors: number; warnings: number; diagnostics: Array<Record<string, unknown>> };
    expect([report.errors, report.warnings]).toEqual([4, 0]);
    expect(report.diagnostics[2]).toEqual({
      code: 'MT0201', severity: 'error', file: 'test/compiler/fixtures/acceptance.mt',
      range: { start: { line: 31, column: 17, offset: expect.any(Number) }, end: { line: 31, column: 21, offset: expect.any(Number) } },
      message: "unknown dataset 'livr'", hint: "did you mean 'liver'?",
    });
  });

  it('compile applies --set overrides', async () => {
    const { cli, out } = io();
    expect(await compileCommand('experiments/quickstart.mt', { format: 'json', set: ['batch=3'] }, cli)).toBe(0);
    const graph = JSON.parse(out.join('\n')) as { stages: Array<{ kind: string; batch?: number }> };
    expect(graph.stages.find((s) => s.kind === 'finetune')!.batch).toBe(3);
  });
});
