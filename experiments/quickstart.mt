// =============================================================================================
// Quickstart: MultiTalent in miniature.
//
// One network learns the classes of four partially annotated CT datasets at once (pre-training),
// then its backbone is fine-tuned on a fifth dataset it has never seen. The five datasets are
// small synthetic CT volumes that mtc generates on first use (about a minute on a laptop), so
// this runs anywhere:
//
//     mtc check experiments/quickstart.mt     # type-check only
//     mtc run   experiments/quickstart.mt     # prepare data, train, fine-tune, evaluate, report
//
// Reading guide. A file holds declarations: `dataset`, `architecture`, `schedule`, `experiment`.
// Each has a name and a block of `field value` pairs. Lists are [a, b, c]; 3-vectors are [z, y, x].
// Comments start with // (or #). The last experiment in the file is the one `mtc run` runs.
// The full reference is docs/language.md.
// =============================================================================================

// nnU-Net's default data augmentation (rotation, scaling, noise, blur, brightness, contrast,
// low resolution, gamma, mirroring), as the paper trains: stdlib/augmentation.mt lists its
// transforms and probabilities. Batches are augmented in a worker thread while the network trains.
import "std/augmentation"

// ---------------------------------------------------------------------------------------------
// Datasets. `root` is an nnU-Net raw dataset folder (dataset.json, imagesTr/, labelsTr/), relative
// to the data root (--data, else $MT_DATA, else ./data). `synthetic quickstart seed 2026` lets mtc
// generate the folder when it is missing. `cases` is how many training cases the dataset holds;
// the sampling shares come from it: `mtc compile` shows them as each training stage's
// `sampling.shares` (the runtime recounts from the data).
//
// A class is a region: the union of the label values listed. Classes of different datasets are
// kept apart even when they share a name: every class gets its own sigmoid output, and a case
// only trains the outputs of the classes its dataset annotates.
// ---------------------------------------------------------------------------------------------

dataset synth_liver {
  root      "quickstart/Dataset901_SynthLiver"
  modality  CT
  cases     12
  synthetic quickstart seed 2026
  classes {
    liver        [1, 2]                  // the liver region includes its tumour (labels 1 and 2)
    liver_tumour [2]     tags [cancer]
  }
}

dataset synth_liver_tumour {
  root      "quickstart/Dataset902_SynthLiverTumour"
  modality  CT
  cases     8
  synthetic quickstart seed 2026
  classes {
    liver_tumour [1]     tags [cancer]   // only the tumour is annotated; the liver around it is not
  }
}

dataset synth_abdomen {
  root      "quickstart/Dataset903_SynthAbdomen"
  modality  CT
  cases     6
  synthetic quickstart seed 2026
  classes {
    liver  [1]
    spleen [2]
    aorta  [3]                           // annotated along its full length
  }
}

dataset synth_vessel {
  root      "quickstart/Dataset904_SynthVessel"
  modality  CT
  cases     10
  synthetic quickstart seed 2026
  classes {
    aorta  [1]                           // annotation stops at the level of the kidneys
    spleen [2]
  }
}

// The fine-tuning target. It is held out of pre-training, as in the paper's transfer experiments.
dataset synth_kidney {
  root      "quickstart/Dataset905_SynthKidney"
  modality  CT
  cases     20
  synthetic quickstart seed 2026
  classes {
    kidney        [1, 2]                 // the kidney region includes its tumour
    kidney_tumour [2]    tags [cancer]
  }
}

// ---------------------------------------------------------------------------------------------
// Network. A small 3D U-Net: four resolution stages. Strides are derived from the patch (each
// stage halves every axis that is still at least 8 voxels): [1,1,1], [2,2,2], [2,2,2], [2,2,2].
// The paper's network is `multitalent_unet` in stdlib/architectures.mt.
// ---------------------------------------------------------------------------------------------

architecture quickstart_unet {
  kind     unet
  patch    [32, 32, 32]                  // voxels [z, y, x] at the experiment's spacing
  features [8, 16, 32, 64]               // feature maps per stage, full resolution first
  deep_supervision true                  // nnU-Net's: a loss at full and at half resolution (weights 2/3, 1/3)
}

// ---------------------------------------------------------------------------------------------
// Schedules. Omitted fields take nnU-Net's defaults (SGD momentum 0.99 Nesterov, weight decay
// 3e-5, gradient clip 12). The paper pre-trains 2000 epochs x 250 iterations; this runs 15 x 25.
// ---------------------------------------------------------------------------------------------

schedule short_pretrain {
  optimizer        sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  lr               poly(0.01, 0.9)       // lr = 0.01 * (1 - epoch / epochs)^0.9
  epochs           15
  iterations       25                    // training iterations (batches) per epoch
  validation       5                     // validation batches per epoch (pseudo-Dice; nnU-Net: 50)
  checkpoint_every 5                     // epochs between resumable checkpoints (default 10)
}

// Fine-tuning: first train only the new heads (the backbone is frozen) while the learning rate
// rises linearly from 0 to 0.01, then train everything with poly decay. The paper's version is
// `multitalent_finetune` in stdlib/schedules.mt (10 + 50 + rest of 1000 epochs).
schedule short_finetune {
  optimizer        sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  epochs           60
  iterations       25
  validation       5
  checkpoint_every 5
  phase heads { epochs 2     lr linear(0, 0.01) }
  phase all   { epochs rest  lr poly(0.01, 0.9) }   // the remaining 58 epochs
}

// ---------------------------------------------------------------------------------------------
// Experiments.
// ---------------------------------------------------------------------------------------------

// Multi-dataset pre-training: one network, one sigmoid output per class of every dataset (8 here),
// trained on every case of the four datasets (`folds none`): only the fine-tune is evaluated, so
// nothing of them needs holding out (the paper pre-trains on its whole collection too).
experiment quickstart_pretrain {
  datasets     [synth_liver, synth_liver_tumour, synth_abdomen, synth_vessel]
  architecture quickstart_unet
  schedule     short_pretrain
  batch        2
  sampling     inverse_sqrt              // case weight 1/sqrt(cases of its dataset)
  foreground   0.33                      // a third of each batch is centred on a present class
  spacing      [4, 4, 4]                 // mm [z, y, x]; every experiment of a run shares it
  augmentation nnunet_augmentation
  folds        none                      // train on every case: only the fine-tune is evaluated
  seed         42
}

// Transfer: start from the pre-trained backbone, with fresh heads for the kidney classes.
// Architecture and spacing are inherited from quickstart_pretrain. Folds: the default, fold 0:
// it trains on 16 of the 20 kidney cases and is evaluated on the other 4. The evaluation predicts
// as the paper and nnU-Net do: a sliding window with test-time mirroring over all three axes (each
// tile predicted 8 times, flipped back and averaged); `tta false` is 8 times faster and less exact.
experiment quickstart {
  pretrained   quickstart_pretrain
  datasets     [synth_kidney]
  schedule     short_finetune
  batch        2
  augmentation nnunet_augmentation
  evaluation   { tta true }
  seed         42
}
