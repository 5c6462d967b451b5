import { describe, expect, it, vi } from 'vitest';

// MT0901 guards the compiler's own output: if lowering ever produced a graph that fails the
// graph schema, the user gets a diagnostic (never a stack trace). Force that by breaking lower().
vi.mock('../../src/compiler/lower.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/compiler/lower.js')>();
  return { ...real, lower: () => ({ schemaVersion: 1, stages: [] }) };
});

const { compileProgram, loadProgram } = await import('../../src/compiler/index.js');

describe('MT0901 internal compiler error', () => {
  it('turns an invalid lowered graph into a diagnostic that asks for a bug report', async () => {
    const { graph, diagnostics } = compileProgram(await loadProgram('experiments/quickstart.mt'));
    expect(graph).toBeNull();
    const d = diagnostics.find((x) => x.code === 'MT0901');
    expect(d?.severity).toBe('error');
    expect(d?.message).toContain("internal compiler error while building the graph for 'quickstart'");
    expect(d?.hint).toContain('bug in mtc');
  });
});
