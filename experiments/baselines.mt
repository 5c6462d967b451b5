// Per-dataset baselines: one network per dataset, architecture and fold, trained with nnU-Net's
// softmax Dice + cross-entropy loss on the same patch, spacing and batch as the MD networks.
// 13 datasets x 3 architectures x 5 folds = 195 experiments, named
// FAMILY_DATASET_ARCHITECTURE_foldN, e.g.:
//
//     mtc compile experiments/baselines.mt -e baselines_kits19_multitalent_unet_fold0

import "std/datasets/multitalent"
import "std/architectures"
import "std/schedules"
import "std/augmentation"

// What every baseline shares; the families below vary datasets, architecture and fold.
experiment baseline {
  datasets     [msd_liver]
  architecture multitalent_unet
  schedule     nnunet_default
  batch        4
  loss         dice_ce
  augmentation nnunet_augmentation
  precision    mixed
  evaluation { tta true  step 0.5  metrics [dice] }
}

// The convolutional networks, with nnU-Net's SGD schedule.
family baselines extends baseline {
  datasets each(
    msd_liver, msd_lung, msd_pancreas, msd_hepatic_vessel, msd_spleen, msd_colon, btcv, btcv_pelvis,
    btcv2, structseg_thorax, segthor, nih_pancreas, kits19,
  )
  architecture each(multitalent_unet, multitalent_resenc)
  folds        each(0, 1, 2, 3, 4)
}

// SwinUNETR, with its AdamW schedule.
family baselines_swin extends baseline {
  datasets each(
    msd_liver, msd_lung, msd_pancreas, msd_hepatic_vessel, msd_spleen, msd_colon, btcv, btcv_pelvis,
    btcv2, structseg_thorax, segthor, nih_pancreas, kits19,
  )
  architecture multitalent_swin
  schedule     multitalent_swin_pretrain
  folds        each(0, 1, 2, 3, 4)
}
