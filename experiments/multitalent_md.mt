// MultiTalent multi-dataset (MD) training: one network for all 47 classes of the paper's 13 CT
// datasets, in the paper's three architectures. Each is a 5-fold cross-validation in which every
// dataset keeps its own split: fold k of the collection is fold k of each dataset (its seeded
// 5-fold split, or the splits_final.json it declares with `split`), the folds the per-dataset
// baselines use too. The three share one preprocessing stage.
//
//     mtc compile experiments/multitalent_md.mt --format json     # md_swin (the last one)
//     mtc compile experiments/multitalent_md.mt -e md_unet

import "std/datasets/multitalent"
import "std/architectures"
import "std/schedules"
import "std/augmentation"
import "std/sampling"

// U-Net: batch 4, 2000 epochs of 250 iterations, inverse-sqrt case sampling, nnU-Net augmentation.
experiment md_unet {
  datasets [
    msd_liver, msd_lung, msd_pancreas, msd_hepatic_vessel, msd_spleen, msd_colon, btcv, btcv_pelvis,
    btcv2, structseg_thorax, segthor, nih_pancreas, kits19,
  ]
  architecture multitalent_unet
  schedule     multitalent_pretrain
  batch        4
  sampling     multitalent_sampling
  augmentation nnunet_augmentation
  loss         multitalent
  precision    mixed
  folds        all
  evaluation { tta true  step 0.5  metrics [dice] }
  report [md_cancer]
}

// Residual-encoder U-Net, otherwise the same.
experiment md_resenc extends md_unet {
  architecture multitalent_resenc
}

// SwinUNETR, with its AdamW schedule.
experiment md_swin extends md_unet {
  architecture multitalent_swin
  schedule     multitalent_swin_pretrain
}
