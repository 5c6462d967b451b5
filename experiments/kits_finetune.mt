// Transfer to KiTS19: pre-train MultiTalent on the collection without KiTS19, then fine-tune on it.
//
//     mtc compile experiments/kits_finetune.mt

import "multitalent_md.mt"

// Leave-one-out pre-training: the MD U-Net without the target dataset.
experiment md_unet_without_kits extends md_unet {
  exclude [kits19]
}

// Fine-tuning: new heads for KiTS19's classes, the paper's schedule (10 epochs heads only, 50 epochs
// warm-up of the whole network, poly for the rest), batch 2, same patch and spacing. Its five folds
// all start from one pre-trained model (md_unet_without_kits fold 0), and KiTS19 is normalised with
// that model's CT statistics: the pre-training is exactly md_unet_without_kits run alone.
experiment kits_finetune {
  pretrained   md_unet_without_kits
  datasets     [kits19]
  schedule     multitalent_finetune
  batch        2
  augmentation nnunet_augmentation
  precision    mixed
  folds        all
  evaluation { tta true  step 0.5  metrics [dice] }
  report [md_cancer]
}
