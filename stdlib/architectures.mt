// Standard architectures. Import with:  import "std/architectures"
//
// Axis order everywhere is [z, y, x]. Patch sizes are in voxels at the experiment's spacing.

// The MultiTalent paper's 3D U-Net (nnU-Net's generic U-Net): six resolution stages, two 3x3x3
// convolutions per stage, strided convolutions down, transposed convolutions up, one sigmoid
// output per class. At spacing [1.5, 1, 1] mm this patch reaches a 6x6x6 bottleneck.
// The paper trained with features 30/60/120/240/320/320 (nnU-Net v1); these are nnU-Net v2's
// 32-based features, min(32 * 2^stage, 320).
architecture multitalent_unet {
  kind     unet
  patch    [96, 192, 192]
  features [32, 64, 128, 256, 320, 320]
  strides  [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]
}
