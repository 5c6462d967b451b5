/**
 * An augmentation profile as a list of registered transforms in nnU-Net's order: the spatial
 * transform (rotation, scaling, elastic: one resampling of the case around the patch), then the
 * intensity transforms, then mirroring. Every draw comes from the generator passed in, so a sample
 * is a pure function of (case, patch start, generator state).
 */
import { isDummy2d, transformDeclaration, transformRank, type TransformKind } from '../../../graph/transforms.js';
import type { AugmentationSpec, AugmentTransform, Vec3 } from '../../../graph/types.js';
import type { Prng } from '../../rng.js';
import { extractPatch } from '../sampler.js';
import { transformImplementation } from './registry.js';
import { samplePatch, type VolumeArrays } from './spatial.js';
import { identityDraw, type AugmentContext, type Patch, type PatchTransformImpl, type SpatialTransformImpl } from './types.js';

/** Without a profile: nnU-Net's mirroring (p 0.5 on each axis). */
const DEFAULT_PROFILE: AugmentationSpec = { name: 'mirror', transforms: [{ kind: 'mirror', p: 0.5, axes: [0, 1, 2] }] };

interface Step<I> {
  t: AugmentTransform;
  impl: I;
  /** Probability that the transform acts on the (single) image channel once it applies to the sample. */
  pChannel: number;
}

export interface AugmentedSample {
  patch: Patch;
  /** The transforms that acted on this sample, in order. */
  applied: TransformKind[];
}

export class AugmentationPipeline {
  readonly context: AugmentContext;
  private readonly spatial: Step<SpatialTransformImpl>[] = [];
  private readonly patchSteps: Step<PatchTransformImpl>[] = [];

  /** Throws when the profile uses a transform (p > 0) that has no implementation. */
  constructor(spec: AugmentationSpec | undefined, patch: Vec3) {
    this.context = { patch: [...patch] as Vec3, dummy2d: isDummy2d(patch) };
    const transforms = [...(spec ?? DEFAULT_PROFILE).transforms].sort((a, b) => transformRank(a.kind) - transformRank(b.kind));
    for (const t of transforms) {
      if (!(t.p > 0)) continue;
      const impl = transformImplementation(t.kind);
      if (!impl) throw new Error(`augmentation transform '${t.kind}' has no implementation in this runtime`);
      const pChannel = transformDeclaration(t.kind).pChannel;
      if (impl.stage === 'spatial') this.spatial.push({ t, impl, pChannel });
      else this.patchSteps.push({ t, impl, pChannel });
    }
  }

  /** True when the profile does nothing (the patch is a plain crop). */
  get empty(): boolean {
    return this.spatial.length === 0 && this.patchSteps.length === 0;
  }

  /** The patch at `start` (corner, case voxels; may lie partly outside), augmented. */
  sample(src: VolumeArrays, start: Vec3, rng: Prng): AugmentedSample {
    const applied: TransformKind[] = [];
    const draw = identityDraw();
    for (const s of this.spatial) {
      if (rng.next() < s.t.p) {
        s.impl.draw(s.t, draw, rng, this.context);
        applied.push(s.t.kind);
      }
    }
    const shape = this.context.patch;
    let patch: Patch;
    if (applied.length > 0) {
      const centre = start.map((v, a) => v + (shape[a] - 1) / 2);
      patch = samplePatch(src, centre, draw, shape);
    } else {
      const crop = extractPatch(src, start, shape);
      patch = { image: crop.image, label: crop.label, shape: [...shape] as Vec3 };
    }
    for (const s of this.patchSteps) {
      if (s.impl.stage === 'intensity') {
        if (!(rng.next() < s.t.p)) continue;
        if (s.pChannel < 1 && !(rng.next() < s.pChannel)) continue;
      }
      if (s.impl.apply(s.t, patch, rng, this.context)) applied.push(s.t.kind);
    }
    return { patch, applied };
  }
}
