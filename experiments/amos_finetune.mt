// Transfer to AMOS (15 abdominal organs). AMOS is not part of the pre-training collection, so the
// MD U-Net pre-trains on all 13 datasets.
//
//     mtc compile experiments/amos_finetune.mt

import "multitalent_md.mt"
import "std/datasets/amos"

experiment amos_finetune {
  pretrained   md_unet
  datasets     [amos]
  schedule     multitalent_finetune
  batch        2
  augmentation nnunet_augmentation
  precision    mixed
  folds        all
  evaluation { tta true  step 0.5  metrics [dice] }
}
