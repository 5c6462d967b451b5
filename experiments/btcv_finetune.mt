// Transfer to BTCV: pre-train MultiTalent on the collection without BTCV, then fine-tune on it
// (the paper's BTCV leaderboard entry, evaluated with Dice and HD95).
//
//     mtc compile experiments/btcv_finetune.mt

import "multitalent_md.mt"

// Leave-one-out pre-training: the MD U-Net without the target dataset.
experiment md_unet_without_btcv extends md_unet {
  exclude [btcv]
}

experiment btcv_finetune {
  pretrained   md_unet_without_btcv
  datasets     [btcv]
  schedule     multitalent_finetune
  batch        2
  augmentation nnunet_augmentation
  precision    mixed
  folds        all
  evaluation { tta true  step 0.5  metrics [dice, hd95] }
}
