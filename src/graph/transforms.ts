/**
 * The augmentation transforms: the one declaration of which transforms exist, in which order they
 * apply, what their probability and range mean, how a value is drawn from the range, which values
 * the range may take, and nnU-Net's defaults. The checker (`compiler/check/augmentation.ts`), the
 * runtime's preflight and transform registry (`runtime/train/augment/`) and docs/language.md all
 * read it; a test checks that the runtime implements every transform declared here.
 *
 * The facts follow nnU-Net v2's `get_training_transforms` (batchgeneratorsv2): one spatial transform
 * (rotation, scaling, elastic deformation) sampled from the case around the patch, then the
 * intensity transforms, then mirroring.
 */

/** Every transform, in the order nnU-Net applies them (a profile's transforms run in this order, however written). */
export const TRANSFORM_KINDS = [
  'rotation', 'scaling', 'elastic', 'noise', 'blur', 'brightness', 'contrast', 'low_resolution', 'gamma_inverted', 'gamma', 'mirror',
] as const;

export type TransformKind = (typeof TRANSFORM_KINDS)[number];

/**
 * How a parameter value is drawn from `range [low, high]`:
 * - `uniform`: U(low, high);
 * - `around_one`: nnU-Net's contrast law (batchgeneratorsv2's BGContrast): when low < 1 < high, half
 *   of the draws U(low, 1) and half U(1, high), so factors below and above 1 are equally likely
 *   whatever the range's asymmetry; otherwise U(low, high).
 */
export type RangeLaw = 'uniform' | 'around_one';

/** Values a range's ends may take (the checker reports MT0303 outside them). */
export interface RangeBounds {
  min?: number;
  max?: number;
  /** `min` itself is excluded. */
  exclusiveMin?: boolean;
  /** Why, for the message. */
  why: string;
}

export interface RangeDeclaration {
  /** What the range's numbers are, for messages and docs. */
  meaning: string;
  law: RangeLaw;
  /** The range must be written (else it may be left out while p is 0). */
  required: boolean;
  bounds?: RangeBounds;
}

export interface TransformDeclaration {
  kind: TransformKind;
  /** One line: what the transform does. */
  does: string;
  /**
   * `spatial`: part of the one spatial transform that samples the patch out of the case;
   * `intensity`: acts on the image patch only; `mirror`: flips image and label.
   */
  stage: 'spatial' | 'intensity' | 'mirror';
  /** What `p` is the probability of: applying the transform to a sample, or flipping one axis. */
  pMeans: 'sample' | 'axis';
  /**
   * Once the transform applies to a sample, the probability that it acts on each image channel
   * (nnU-Net's p_per_channel; fixed, not set by profiles). With one CT channel the transform acts
   * with probability p x pChannel.
   */
  pChannel: number;
  /** The transform's parameter range, or null when it takes none. */
  range: RangeDeclaration | null;
  /** Axes (0 = z, 1 = y, 2 = x) the transform may be restricted to, with the default; null when it takes no `axes`. */
  axes: { meaning: string; default: number[] } | null;
  /** nnU-Net v2's setting (stdlib's `nnunet_augmentation`). */
  nnunet: { p: number; range?: [number, number] };
}

const positive = (why: string): RangeBounds => ({ min: 0, exclusiveMin: true, why });
const nonNegative = (why: string): RangeBounds => ({ min: 0, why });

export const TRANSFORMS: readonly TransformDeclaration[] = [
  {
    kind: 'rotation',
    does: 'rotates the sampling grid about each listed axis by an angle drawn per axis',
    stage: 'spatial',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'angle in degrees, drawn for each axis', law: 'uniform', required: true },
    axes: { meaning: 'axes rotated about', default: [0, 1, 2] },
    nnunet: { p: 0.2, range: [-30, 30] },
  },
  {
    kind: 'scaling',
    does: 'zooms the sampling grid by one factor for all axes (above 1: a larger field of view, smaller structures)',
    stage: 'spatial',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'zoom factor, one for all axes', law: 'uniform', required: true, bounds: positive('a zoom factor is above 0') },
    axes: null,
    nnunet: { p: 0.2, range: [0.7, 1.4] },
  },
  {
    kind: 'elastic',
    does: 'displaces the sampling grid by a smooth random field (Gaussian-smoothed noise, sigma a random 0-20 % of the patch edge per axis)',
    stage: 'spatial',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'largest displacement in voxels, drawn per axis', law: 'uniform', required: false, bounds: nonNegative('a displacement is at least 0 voxels') },
    axes: null,
    nnunet: { p: 0 },
  },
  {
    kind: 'noise',
    does: 'adds Gaussian noise with a standard deviation drawn per sample',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'standard deviation of the Gaussian noise', law: 'uniform', required: true, bounds: nonNegative('a standard deviation is at least 0') },
    axes: null,
    nnunet: { p: 0.1, range: [0, 0.1] },
  },
  {
    kind: 'blur',
    does: 'smooths with a separable Gaussian, sigma drawn per axis (kernel of about 3 sigma each side, mirrored edges)',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 0.5,
    range: { meaning: 'Gaussian sigma in voxels, drawn per axis', law: 'uniform', required: true, bounds: positive('sigma is above 0') },
    axes: null,
    nnunet: { p: 0.2, range: [0.5, 1] },
  },
  {
    kind: 'brightness',
    does: 'multiplies the intensities by a factor',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'multiplicative factor', law: 'around_one', required: true, bounds: nonNegative('a factor is at least 0') },
    axes: null,
    nnunet: { p: 0.15, range: [0.75, 1.25] },
  },
  {
    kind: 'contrast',
    does: 'scales intensities about their mean, (x - mean) * f + mean, then clips to the patch\'s original range',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'contrast factor', law: 'around_one', required: true, bounds: nonNegative('a factor is at least 0') },
    axes: null,
    nnunet: { p: 0.15, range: [0.75, 1.25] },
  },
  {
    kind: 'low_resolution',
    does: 'simulates a coarser scan: nearest-neighbour downsampling by a zoom for all axes, then linear upsampling back',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 0.5,
    range: { meaning: 'zoom of the simulated low resolution (1: unchanged)', law: 'uniform', required: true, bounds: { min: 0, max: 1, exclusiveMin: true, why: 'a zoom in (0, 1] makes the image coarser' } },
    axes: null,
    nnunet: { p: 0.25, range: [0.5, 1] },
  },
  {
    kind: 'gamma_inverted',
    does: 'gamma applied to the negated image, then negated back (bends the bright end), mean and standard deviation restored',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'gamma', law: 'around_one', required: true, bounds: positive('gamma is above 0') },
    axes: null,
    nnunet: { p: 0.1, range: [0.7, 1.5] },
  },
  {
    kind: 'gamma',
    does: 'gamma: ((x - min) / range)^gamma * range + min, then mean and standard deviation restored',
    stage: 'intensity',
    pMeans: 'sample',
    pChannel: 1,
    range: { meaning: 'gamma', law: 'around_one', required: true, bounds: positive('gamma is above 0') },
    axes: null,
    nnunet: { p: 0.3, range: [0.7, 1.5] },
  },
  {
    kind: 'mirror',
    does: 'flips image and label along each listed axis, each with probability p',
    stage: 'mirror',
    pMeans: 'axis',
    pChannel: 1,
    range: null,
    axes: { meaning: 'axes that may be flipped', default: [0, 1, 2] },
    nnunet: { p: 0.5 },
  },
];

const BY_KIND = new Map(TRANSFORMS.map((t) => [t.kind, t]));

export function transformDeclaration(kind: TransformKind): TransformDeclaration {
  const d = BY_KIND.get(kind);
  if (!d) throw new Error(`no augmentation transform '${String(kind)}'`);
  return d;
}

export function isTransformKind(word: string): word is TransformKind {
  return BY_KIND.has(word as TransformKind);
}

/** Position of a transform in nnU-Net's order. */
export function transformRank(kind: TransformKind): number {
  return TRANSFORM_KINDS.indexOf(kind);
}

/**
 * nnU-Net's threshold for "dummy 2D" augmentation: when the patch's largest edge is more than 3
 * times its first (z) edge, the spatial transform acts in-plane only (rotation about z, scaling and
 * deformation of y and x) and low-resolution simulation leaves z alone. (nnU-Net's
 * configure_rotation_dummyDA_mirroring_and_inital_patch_size: max(patch) / patch[0] > 3.)
 */
export const DUMMY_2D_THRESHOLD = 3;

/** True when augmentation of this patch [z, y, x] runs in-plane only (nnU-Net's dummy 2D). */
export function isDummy2d(patch: readonly number[]): boolean {
  return Math.max(...patch) / patch[0] > DUMMY_2D_THRESHOLD;
}

/** nnU-Net's profile from the declarations (equal to stdlib's `nnunet_augmentation`; a test checks). */
export function nnunetProfile(): { name: string; transforms: { kind: TransformKind; p: number; range?: [number, number]; axes?: number[] }[] } {
  return {
    name: 'nnunet_augmentation',
    transforms: TRANSFORMS.map((t) => ({ kind: t.kind, p: t.nnunet.p, ...(t.nnunet.range ? { range: [...t.nnunet.range] as [number, number] } : {}), ...(t.axes ? { axes: [...t.axes.default] } : {}) })),
  };
}
