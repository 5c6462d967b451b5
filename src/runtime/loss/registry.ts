/**
 * The losses the trainer can train with, registered once by kind (the graph's `TrainParams.loss`)
 * and looked up by the training step, preflight and the docs; no caller branches on the kind.
 *
 * A loss is created for a setup (the network's output layout and the loss options) and is then a
 * function (logits, targets, mask) -> scalar with the shapes of the MultiTalent loss: logits and
 * targets [B, z, y, x, channels], mask [B, channels] (1 where case b's dataset annotates the channel).
 */
import type * as tf from '@tensorflow/tfjs';
import { outputLayoutFor } from '../../graph/outputs.js';
import type { LossKind, LossOptions, OutputLayout, TrainParams } from '../../graph/types.js';
import { multiTalentSpec, nnUNetRegionSpec } from './sigmoid-dice-bce.js';
import { sigmoidDiceBceLoss } from './sigmoid-loss.js';
import { nnUNetSoftmaxSpec } from './softmax-dice-ce.js';
import { softmaxDiceCeLoss } from './softmax-loss.js';

export type LossFn = (logits: tf.Tensor5D, targets: tf.Tensor5D, mask: tf.Tensor2D) => tf.Scalar;

export interface LossSetup {
  output: OutputLayout;
  options: LossOptions;
}

export interface LossDefinition {
  kind: LossKind;
  /** Why the loss cannot train this setup, or null when it can. */
  refuse(setup: LossSetup): string | null;
  /** One line for the training log. */
  describe(setup: LossSetup): string;
  create(setup: LossSetup): LossFn;
}

/** The loss setup of a training stage (graphs written before these fields existed: the defaults). */
export function lossSetupOf(params: Pick<TrainParams, 'loss' | 'heads' | 'output' | 'lossOptions'>): LossSetup {
  return { output: params.output ?? outputLayoutFor(params.loss, params.heads), options: params.lossOptions ?? { batchDice: true } };
}

const registry = new Map<string, LossDefinition>();

export function registerLoss(def: LossDefinition): void {
  if (registry.has(def.kind)) throw new Error(`loss '${def.kind}' is registered twice`);
  registry.set(def.kind, def);
}

/** Kinds of the registered losses, in registration order. */
export function registeredLosses(): string[] {
  return [...registry.keys()];
}

export function lossDefinition(kind: string): LossDefinition {
  const def = registry.get(kind);
  if (!def) throw new Error(`loss '${kind}' is not known to this runtime (it has: ${registeredLosses().join(', ')})`);
  return def;
}

/** The loss function for a setup; throws with the loss's reason when it cannot train it. */
export function createLoss(kind: string, setup: LossSetup): LossFn {
  const def = lossDefinition(kind);
  const refused = def.refuse(setup);
  if (refused) throw new Error(`loss '${kind}': ${refused}`);
  return def.create(setup);
}

const diceWord = (o: LossOptions) => (o.batchDice ? 'batch Dice' : 'per-case Dice');

registerLoss({
  kind: 'multitalent',
  refuse: (s) => (s.output.activation === 'sigmoid' ? null : `needs one sigmoid output per class, not a ${s.output.activation} output`),
  describe: (s) => `multitalent: masked sigmoid BCE - ${diceWord(s.options)}, summed over the annotated classes (paper eq. 2)`,
  create: (s) => {
    const spec = multiTalentSpec(s.options.batchDice);
    return (z, g, m) => sigmoidDiceBceLoss(z, g, m, spec);
  },
});

registerLoss({
  kind: 'dice_ce',
  refuse: () => null,
  describe: (s) =>
    s.output.activation === 'softmax'
      ? `dice_ce: nnU-Net's softmax cross-entropy + soft ${diceWord(s.options)} of the ${s.output.labels.length - 1} foreground labels (background in the softmax, not in the Dice)`
      : `dice_ce: nnU-Net's region-based sigmoid BCE + soft ${diceWord(s.options)} (some class is a region)`,
  create: (s) => {
    if (s.output.activation === 'softmax') {
      const spec = nnUNetSoftmaxSpec(s.options.batchDice);
      return (z, g, m) => softmaxDiceCeLoss(z, g, m, spec);
    }
    const spec = nnUNetRegionSpec(s.options.batchDice);
    return (z, g, m) => sigmoidDiceBceLoss(z, g, m, spec);
  },
});
