import { describe, expect, it } from 'vitest';
import { compileProgram, loadProgram } from '../../../src/compiler/index.js';
import { makePlan, stagesOf } from '../../../src/runtime/executor/plan.js';

describe('makePlan: the experiments of a run and their stages', async () => {
  const program = await loadProgram('experiments/quickstart.mt');
  const { graph } = compileProgram(program, { all: true });

  it('plans an experiment that trains on every case (folds none: no evaluation, no report) with --all', () => {
    expect(graph!.source.experiments).toEqual(['quickstart_pretrain', 'quickstart']);
    const plan = makePlan(graph!, { runsDir: '/runs', backend: 'cpu' });
    const [pre, ft] = plan.experiments;
    expect(pre.name).toBe('quickstart_pretrain');
    expect(pre.stages.at(-1)).toBe('train:quickstart_pretrain');
    expect(pre.stages.some((s) => s.startsWith('evaluate:') || s.startsWith('report:'))).toBe(false);
    expect(pre.stages.filter((s) => s.startsWith('prepare:'))).toHaveLength(4);
    expect(ft.stages.at(-1)).toBe('report:quickstart');
    expect(ft.stages).toEqual(expect.arrayContaining(pre.stages));
    expect(pre.runDir).toMatch(/^\/runs\/quickstart_pretrain\/[0-9a-f]{12}$/);
    expect(pre.runKey).not.toBe(ft.runKey);
  });

  it('names an experiment the graph has no stage of', () => {
    expect(() => stagesOf(graph!, 'nope')).toThrow("the graph has no stage of experiment 'nope'");
  });
});
