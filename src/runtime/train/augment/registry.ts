/**
 * The transform registry: one implementation per transform name of graph/transforms.ts. The
 * pipeline, the preflight ("what can this runtime apply?") and the tests look transforms up here.
 */
import { TRANSFORMS, type TransformKind } from '../../../graph/transforms.js';
import type { AugmentationSpec } from '../../../graph/types.js';
import { blur } from './blur.js';
import { brightness } from './brightness.js';
import { contrast } from './contrast.js';
import { elastic } from './elastic.js';
import { gamma, gammaInverted } from './gamma.js';
import { lowResolution } from './low_resolution.js';
import { mirror } from './mirror.js';
import { noise } from './noise.js';
import { rotation } from './rotation.js';
import { scaling } from './scaling.js';
import type { TransformImpl } from './types.js';

const registry = new Map<TransformKind, TransformImpl>();

/** Registers the implementation of a declared transform; its stage must be the declared one. */
export function registerTransform(kind: TransformKind, impl: TransformImpl): void {
  const decl = TRANSFORMS.find((t) => t.kind === kind);
  if (!decl) throw new Error(`cannot register augmentation transform '${kind}': graph/transforms.ts does not declare it`);
  if (decl.stage !== impl.stage) throw new Error(`augmentation transform '${kind}' is declared as a ${decl.stage} transform, not ${impl.stage}`);
  if (registry.has(kind)) throw new Error(`augmentation transform '${kind}' is registered twice`);
  registry.set(kind, impl);
}

registerTransform('rotation', rotation);
registerTransform('scaling', scaling);
registerTransform('elastic', elastic);
registerTransform('noise', noise);
registerTransform('blur', blur);
registerTransform('brightness', brightness);
registerTransform('contrast', contrast);
registerTransform('low_resolution', lowResolution);
registerTransform('gamma_inverted', gammaInverted);
registerTransform('gamma', gamma);
registerTransform('mirror', mirror);

export function transformImplementation(kind: TransformKind): TransformImpl | undefined {
  return registry.get(kind);
}

/** The registered transform names. */
export function registeredTransforms(): TransformKind[] {
  return [...registry.keys()];
}

/** Transforms of a profile that would act (p > 0) but have no implementation here. */
export function unimplementedTransforms(spec: AugmentationSpec | undefined): TransformKind[] {
  return [...new Set((spec?.transforms ?? []).filter((t) => t.p > 0 && !registry.has(t.kind)).map((t) => t.kind))];
}
