// The paper's three architectures. Import with:  import "std/architectures"
//
// All three use the patch [96, 192, 192] voxels at spacing [1.5, 1, 1] mm [z, y, x] chosen by hand
// for the multi-dataset collection. Strides and kernels are derived from patch and spacing the way
// nnU-Net derives them: [1,1,1], [2,2,2] x 4, [1,2,2] (6 stages, a 6x6x6 bottleneck), kernels 3x3x3.

// 3D U-Net (nnU-Net's generic U-Net, as in nnU-Net v1): two 3x3x3 convolutions per stage, strided
// convolutions down, transposed convolutions up, deep supervision. Features 30/60/120/240/320/320.
architecture multitalent_unet {
  kind             unet
  patch            [96, 192, 192]
  spacing          [1.5, 1, 1]
  features         [30, 60, 120, 240, 320, 320]
  deep_supervision true
}

// Residual-encoder U-Net: residual blocks per encoder stage 1, 2, 3, 4, 4, 4 (the released plans),
// one convolution per decoder stage, deep supervision.
architecture multitalent_resenc {
  kind             resenc_unet
  patch            [96, 192, 192]
  spacing          [1.5, 1, 1]
  features         [32, 64, 128, 256, 320, 320]
  blocks           [1, 2, 3, 4, 4, 4]
  deep_supervision true
}

// SwinUNETR (MONAI's topology): feature size 48, no deep supervision. Train it with the AdamW
// schedule multitalent_swin_pretrain (std/schedules).
architecture multitalent_swin {
  kind             swin_unetr
  patch            [96, 192, 192]
  spacing          [1.5, 1, 1]
  feature_size     48
  deep_supervision false
}
