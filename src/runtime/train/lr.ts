import type { LrLaw, PhaseSpec } from '../../graph/types.js';

/**
 * Learning rate of a phase at epoch `e` (0-based within the phase) of `E` epochs, set at the start
 * of each epoch as nnU-Net does:
 * - constant: value
 * - linear:   from + (to - from) * (e + 1) / E (a warm-up: the phase's last epoch runs at `to`, so a
 *             following poly phase starting at `to` continues without a jump, and a `from` of 0 never
 *             wastes an epoch at learning rate 0, as in the MultiTalent authors' warm-up)
 * - poly:     initial * (1 - e / E)^exponent   (nnU-Net's PolyLRScheduler)
 * - cosine:   final + (initial - final) * (1 + cos(pi * e / E)) / 2
 */
export function learningRate(law: LrLaw, e: number, E: number): number {
  if (!Number.isInteger(e) || e < 0 || e >= E) throw new RangeError(`epoch ${e} is outside a phase of ${E} epochs`);
  const t = e / E;
  switch (law.kind) {
    case 'constant':
      return law.value;
    case 'linear':
      return law.from + ((law.to - law.from) * (e + 1)) / E;
    case 'poly':
      return law.initial * Math.pow(1 - t, law.exponent);
    case 'cosine':
      return law.final + (law.initial - law.final) * 0.5 * (1 + Math.cos(Math.PI * t));
  }
}

/** The phase and epoch-within-phase of a global epoch index. */
export function phaseAt(phases: readonly PhaseSpec[], epoch: number): { phase: number; epochInPhase: number } {
  let start = 0;
  for (let i = 0; i < phases.length; i++) {
    if (epoch < start + phases[i].epochs) return { phase: i, epochInPhase: epoch - start };
    start += phases[i].epochs;
  }
  throw new RangeError(`epoch ${epoch} is past the schedule's ${start} epochs`);
}

/**
 * The learning rate of global epoch `epoch` (0-based over all phases) of a schedule: its phase's
 * law at the epoch's position within the phase. The trainer sets it at the start of each epoch.
 */
export function scheduleLearningRate(schedule: { phases: readonly PhaseSpec[] }, epoch: number): number {
  const { phase, epochInPhase } = phaseAt(schedule.phases, epoch);
  const p = schedule.phases[phase];
  return learningRate(p.lr, epochInPhase, p.epochs);
}
