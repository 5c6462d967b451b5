import { describe, expect, it } from 'vitest';
import { unsupportedFeatures } from '../../src/runtime/preflight.js';
import { sampleGraph } from '../graph/fixture.js';
import { TRANSFORMS } from '../../src/graph/transforms.js';

describe('runtime preflight', () => {
  it('accepts what the runtime executes', () => {
    expect(unsupportedFeatures(sampleGraph())).toEqual([]);
  });

  it('accepts both losses of the registry (dice_ce with either output form) and refuses a mismatched setup', () => {
    const g = sampleGraph();
    for (const s of g.stages) if (s.kind === 'train' || s.kind === 'finetune') Object.assign(s, { loss: 'dice_ce', output: { activation: 'sigmoid' } });
    expect(unsupportedFeatures(g)).toEqual([]);
    for (const s of g.stages) if (s.kind === 'train' || s.kind === 'finetune') Object.assign(s, { output: { activation: 'softmax', labels: [0, 1] } });
    expect(unsupportedFeatures(g)).toEqual([]);
    for (const s of g.stages) if (s.kind === 'train' || s.kind === 'finetune') Object.assign(s, { loss: 'multitalent' });
    expect(unsupportedFeatures(g)[0]).toBe("experiment 'pre': loss 'multitalent' needs one sigmoid output per class, not a softmax output");
  });

  it('accepts every kind of the network registry, and refuses a topology that does not fit the network', () => {
    const g = sampleGraph();
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') s.architecture = { ...s.architecture, kind: 'resenc_unet', convsPerStage: 1, blocksPerStage: s.architecture.features.map(() => 1) };
    }
    expect(unsupportedFeatures(g)).toEqual([]);
    const swin = { featureSize: 12, depths: [2, 2, 2, 2], heads: [3, 6, 12, 24], window: [7, 7, 7] as [number, number, number] };
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') s.architecture = { ...s.architecture, kind: 'swin_unetr', patch: [32, 32, 64], deepSupervision: false, swin };
    }
    expect(unsupportedFeatures(g)).toEqual([]);
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') s.architecture = { ...s.architecture, patch: [48, 32, 32] };
    }
    const problems = unsupportedFeatures(g);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/the patch or topology does not fit the network: architecture '.*': patch \[48, 32, 32\] is not divisible by 32 on axis 0/);
  });

  it('accepts every declared augmentation transform, elastic included', () => {
    const g = sampleGraph();
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') {
        s.architecture = { ...s.architecture, deepSupervision: true };
        s.augmentation = {
          name: 'everything',
          transforms: TRANSFORMS.map((t) => ({ kind: t.kind, p: 0.5, ...(t.range ? { range: [0.5, 1] as [number, number] } : {}), ...(t.axes ? { axes: t.axes.default } : {}) })),
        };
      }
    }
    expect(unsupportedFeatures(g)).toEqual([]);
  });
});
