/** Denominator clamp of the MultiTalent Dice (the authors' code: no smoothing, clamp at 1e-7). */
export const DICE_DENOMINATOR_MIN = 1e-7;

/** nnU-Net v2's Dice smoothing in DC_and_CE_loss / DC_and_BCE_loss (`smooth: 1e-5`, added to numerator and denominator). */
export const NNUNET_DICE_SMOOTH = 1e-5;

/** nnU-Net v2's MemoryEfficientSoftDiceLoss denominator clamp (`clamp_min(1e-8)`, after the smoothing). */
export const NNUNET_DICE_DENOMINATOR_MIN = 1e-8;
