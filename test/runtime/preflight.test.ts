import { describe, expect, it } from 'vitest';
import { unsupportedFeatures } from '../../src/runtime/preflight.js';
import { sampleGraph } from '../graph/fixture.js';

describe('runtime preflight', () => {
  it('accepts what the runtime executes', () => {
    expect(unsupportedFeatures(sampleGraph())).toEqual([]);
  });

  it('accepts resenc_unet and refuses swin_unetr, naming the architecture', () => {
    const g = sampleGraph();
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') s.architecture = { ...s.architecture, kind: 'resenc_unet', convsPerStage: 1, blocksPerStage: s.architecture.features.map(() => 1) };
    }
    expect(unsupportedFeatures(g)).toEqual([]);
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') s.architecture = { ...s.architecture, kind: 'swin_unetr' };
    }
    const problems = unsupportedFeatures(g);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/is a swin_unetr; the runtime trains 'unet' and 'resenc_unet'/);
  });

  it('refuses a checkpoint file to start from, which the runtime does not load yet', () => {
    const g = sampleGraph();
    const t = g.stages.find((s) => s.kind === 'train');
    if (t?.kind !== 'train') throw new Error('fixture changed');
    t.checkpoint = 'ckpt/model.json';
    expect(unsupportedFeatures(g)).toEqual([`experiment 'pre': pretrained "ckpt/model.json" (a checkpoint file) is not loaded by the runtime yet; pre-train with an experiment and write pretrained EXPERIMENT`]);
  });

  it('names each unsupported feature once, with a way out', () => {
    const g = sampleGraph();
    for (const s of g.stages) {
      if (s.kind === 'train' || s.kind === 'finetune') {
        s.architecture = { ...s.architecture, deepSupervision: true };
        s.augmentation = {
          name: 'heavy',
          transforms: [
            { kind: 'rotation', p: 0.2, range: [-30, 30] },
            { kind: 'elastic', p: 0 },
            { kind: 'mirror', p: 0.5, axes: [0, 1, 2] },
          ],
        };
      }
    }
    const problems = unsupportedFeatures(g);
    expect(problems).toHaveLength(2); // augmentation once per experiment; deep supervision is supported
    expect(problems.join('\n')).not.toContain('deep supervision');
    expect(problems.filter((p) => p.includes("augmentation 'heavy' uses rotation,"))).toHaveLength(2);
    expect(problems.join('\n')).not.toContain('elastic'); // p = 0 is off
  });
});
