/** Denominator clamp of the batch Dice (the authors' code: no smoothing, clamp at 1e-7). */
export const DICE_DENOMINATOR_MIN = 1e-7;
