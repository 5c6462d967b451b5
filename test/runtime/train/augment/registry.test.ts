import { describe, expect, it } from 'vitest';
import { nnunetProfile, TRANSFORM_KINDS, TRANSFORMS } from '../../../../src/graph/transforms.js';
import { Prng } from '../../../../src/runtime/rng.js';
import { AugmentationPipeline } from '../../../../src/runtime/train/augment/pipeline.js';
import { registeredTransforms, registerTransform, transformImplementation, unimplementedTransforms } from '../../../../src/runtime/train/augment/registry.js';
import { blobCase } from '../helpers.js';

describe('the transform registry', () => {
  it('has one implementation of the declared stage for every declared transform, and nothing else', () => {
    expect(registeredTransforms().sort()).toEqual([...TRANSFORM_KINDS].sort());
    for (const d of TRANSFORMS) expect(transformImplementation(d.kind)?.stage, d.kind).toBe(d.stage);
    expect(unimplementedTransforms(nnunetProfile())).toEqual([]);
    expect(() => registerTransform('blur', transformImplementation('blur')!)).toThrow(/registered twice/);
    expect(() => registerTransform('warp' as never, transformImplementation('blur')!)).toThrow(/does not declare it/);
  });

  it("applies each transform as often as nnU-Net's probabilities say (p per sample times p per channel)", () => {
    const pipeline = new AugmentationPipeline(nnunetProfile(), [6, 6, 6]);
    const c = blobCase('c', 'd', [10, 10, 10], 1);
    const rng = new Prng(11);
    const N = 4000;
    const count = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const { applied } = pipeline.sample(c, [2, 2, 2], rng);
      expect(applied.map((k) => TRANSFORM_KINDS.indexOf(k as never))).toEqual([...applied.map((k) => TRANSFORM_KINDS.indexOf(k as never))].sort((a, b) => a - b));
      for (const k of applied) count.set(k, (count.get(k) ?? 0) + 1);
    }
    const expected: Record<string, number> = {
      rotation: 0.2, scaling: 0.2, noise: 0.1, blur: 0.2 * 0.5, brightness: 0.15, contrast: 0.15,
      low_resolution: 0.25 * 0.5, gamma_inverted: 0.1, gamma: 0.3, mirror: 1 - 0.5 ** 3,
    };
    for (const [k, p] of Object.entries(expected)) {
      const tol = 4 * Math.sqrt((p * (1 - p)) / N);
      expect(Math.abs((count.get(k) ?? 0) / N - p), `${k}: ${(count.get(k) ?? 0) / N} vs ${p}`).toBeLessThan(tol);
    }
    expect(count.get('elastic')).toBeUndefined(); // p 0
  });

  it('refuses a profile whose transform has no implementation, naming it', () => {
    expect(() => new AugmentationPipeline({ name: 'x', transforms: [{ kind: 'warp' as never, p: 0.5 }] }, [4, 4, 4])).toThrow(/'warp' has no implementation/);
    expect(unimplementedTransforms({ name: 'x', transforms: [{ kind: 'warp' as never, p: 0.5 }, { kind: 'zoom' as never, p: 0 }] })).toEqual(['warp']);
  });
});
