import type { ArchitectureKind, ArchitectureSpec, HeadSpec, Vec3 } from '../../graph/types.js';
import { isHeadParam, type Network, type ParamSpec } from './network.js';
import { SWIN_INPUT_MULTIPLE, SwinUNETR, swinParameterSpecs, validateSwin } from './swin.js';
import {
  outputCount as unetOutputCount, outputStrides as unetOutputStrides, parameterSpecs as unetParameterSpecs, totalStride, UNet,
  validateArchitecture as validateUNet,
} from './unet.js';

/**
 * The network kinds the runtime builds, each registered once by name with what varies by kind.
 * Everything outside this module (trainer, step, validation, checkpoints, inference, import,
 * preflight, benchmarks) asks the registry; nothing else branches on `architecture.kind`.
 */
export interface NetworkDefinition {
  kind: ArchitectureKind;
  /** Throws a readable error where the patch or topology does not fit this kind. */
  validate(arch: ArchitectureSpec): void;
  /** The parameters in a fixed order (initialisation and checkpoints follow it). */
  parameterSpecs(arch: ArchitectureSpec, numHeads: number): ParamSpec[];
  /** Outputs of `applyAll` (deep supervision: more than one). */
  outputCount(arch: ArchitectureSpec): number;
  /** Per output, its stride relative to the input (output 0: [1, 1, 1]). */
  outputStrides(arch: ArchitectureSpec): Vec3[];
  /** Input spatial sizes must be multiples of this per axis. */
  inputMultiple(arch: ArchitectureSpec): Vec3;
  /** True for the parameters of the output heads (fresh when fine-tuning, trained in `heads` phases). */
  isHead(name: string): boolean;
  /** A freshly initialised network (seeded). */
  create(arch: ArchitectureSpec, heads: HeadSpec[], seed: number): Network;
  /** A network with the given weights (every parameter present with its size). */
  fromWeights(arch: ArchitectureSpec, heads: HeadSpec[], weights: ReadonlyMap<string, Float32Array>): Network;
}

const unet: Omit<NetworkDefinition, 'kind'> = {
  validate: validateUNet,
  parameterSpecs: unetParameterSpecs,
  outputCount: unetOutputCount,
  outputStrides: unetOutputStrides,
  inputMultiple: totalStride,
  isHead: isHeadParam,
  create: (a, h, s) => UNet.create(a, h, s),
  fromWeights: (a, h, w) => UNet.fromWeights(a, h, w),
};

const DEFINITIONS: Record<ArchitectureKind, NetworkDefinition> = {
  unet: { kind: 'unet', ...unet },
  resenc_unet: { kind: 'resenc_unet', ...unet },
  swin_unetr: {
    kind: 'swin_unetr',
    validate: validateSwin,
    parameterSpecs: swinParameterSpecs,
    outputCount: () => 1,
    outputStrides: () => [[1, 1, 1]],
    inputMultiple: () => [...SWIN_INPUT_MULTIPLE],
    isHead: isHeadParam,
    create: (a, h, s) => SwinUNETR.create(a, h, s),
    fromWeights: (a, h, w) => SwinUNETR.fromWeights(a, h, w),
  },
};

/** The kinds this runtime builds and trains. */
export function networkKinds(): ArchitectureKind[] {
  return Object.keys(DEFINITIONS) as ArchitectureKind[];
}

/** The definition of `kind`; a readable error for a kind this runtime does not know. */
export function networkDefinition(kind: ArchitectureKind | string): NetworkDefinition {
  const d = (DEFINITIONS as Record<string, NetworkDefinition | undefined>)[kind];
  if (!d) throw new Error(`architecture kind '${kind}' is not known to this runtime (it builds ${networkKinds().join(', ')})`);
  return d;
}

export function validateArchitecture(arch: ArchitectureSpec): void {
  networkDefinition(arch.kind).validate(arch);
}

export function parameterSpecs(arch: ArchitectureSpec, numHeads: number): ParamSpec[] {
  return networkDefinition(arch.kind).parameterSpecs(arch, numHeads);
}

export function outputCount(arch: ArchitectureSpec): number {
  return networkDefinition(arch.kind).outputCount(arch);
}

export function outputStrides(arch: ArchitectureSpec): Vec3[] {
  return networkDefinition(arch.kind).outputStrides(arch);
}

export function inputMultiple(arch: ArchitectureSpec): Vec3 {
  return networkDefinition(arch.kind).inputMultiple(arch);
}

/** True for an output-head parameter of a network of `arch`'s kind. */
export function isHead(arch: ArchitectureSpec, name: string): boolean {
  return networkDefinition(arch.kind).isHead(name);
}

export function createNetwork(arch: ArchitectureSpec, heads: HeadSpec[], seed: number): Network {
  return networkDefinition(arch.kind).create(arch, heads, seed);
}

export function networkFromWeights(arch: ArchitectureSpec, heads: HeadSpec[], weights: ReadonlyMap<string, Float32Array>): Network {
  return networkDefinition(arch.kind).fromWeights(arch, heads, weights);
}

export type { Network, ParamSpec } from './network.js';
