// Data augmentation profiles. Import with:  import "std/augmentation"
// (`augmentation none` needs no import: it is built in.)

// nnU-Net's default augmentation (v2's get_training_transforms), applied per sample in this order
// (nnU-Net's, whatever the order written). `p` is the probability per sample; parameters are drawn
// from `range` (factors around 1: half below, half above 1). MultiTalent uses it unchanged.
// What each transform does: docs/language.md, section `augmentation`.
augmentation nnunet_augmentation {
  rotation       { p 0.2  range [-30, 30] }      // degrees, each axis
  scaling        { p 0.2  range [0.7, 1.4] }     // one zoom factor for all axes
  elastic        { p 0 }                         // off
  noise          { p 0.1  range [0, 0.1] }       // std of additive Gaussian noise
  blur           { p 0.2  range [0.5, 1] }       // Gaussian sigma per axis, voxels; then per channel p 0.5
  brightness     { p 0.15  range [0.75, 1.25] }  // multiplicative
  contrast       { p 0.15  range [0.75, 1.25] }  // (x - mean) * f + mean, clipped to the original range
  low_resolution { p 0.25  range [0.5, 1] }      // zoom: nearest down, linear up; then per channel p 0.5
  gamma_inverted { p 0.1  range [0.7, 1.5] }     // on the inverted image; mean and std restored
  gamma          { p 0.3  range [0.7, 1.5] }     // mean and std restored
  mirror         { p 0.5  axes [z, y, x] }       // each axis flipped with probability p
}
