import { describe, expect, it } from 'vitest';

describe('additive contract fields (issue #3)', () => {
  it('accepts the optional fields the compiler now always sets, and checks their lengths', async () => {
    const { sampleGraph } = await import('../graph/fixture.js');
    const { validateGraph, GraphValidationError } = await import('../../src/graph/index.js');
    const g = sampleGraph();
    const train = g.stages.find((s) => s.kind === 'train');
    if (train?.kind !== 'train') throw new Error('fixture has no train stage');
    Object.assign(train.architecture, { kernels: [[3, 3, 3], [3, 3, 3]], deepSupervision: true, spacing: [4, 4, 4] });
    Object.assign(train, { augmentation: { name: 'none', transforms: [] }, precision: 'fp32', checkpoint: null, targets: null });
    expect(() => validateGraph(g)).not.toThrow();
    train.architecture.kernels = [[3, 3, 3]];
    expect(() => validateGraph(g)).toThrow(GraphValidationError);
  });
});
