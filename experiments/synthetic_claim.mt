// =============================================================================================
// The paper's claim, on the synthetic collection (issue #9, section 7). Two comparisons:
//
//   (a) one MultiTalent network trained on four partially annotated datasets at once, versus one
//       network per dataset (nnU-Net's baselines), with EQUAL TOTAL ITERATIONS: every network
//       sees batches of 2 patches of 32^3; each per-dataset network trains 6 epochs x 25
//       iterations = 150, and the MultiTalent network 6 epochs x 100 iterations = 600, the sum of
//       the four per-dataset networks' iterations (the same number of patches, 1200, in total).
//   (b) the kidney fine-tune from (a)'s MultiTalent network versus the same kidney training from
//       scratch: the same network, batch, seed and 10 epochs x 25 = 250 iterations; only the
//       start (pre-trained backbone, heads first, or random weights) differs.
//
// Every dataset keeps its own seeded 5-fold split (docs/language.md, Folds), so all networks of
// an arm are evaluated on the same cases: fold 0's validation part of each dataset (20 %).
//
//     mtc run experiments/synthetic_claim.mt --all --jobs 2     # 32 min on 2 shared cores (load 15-21)
//
// docs/results.md reports what it gave. The classes compared are the collection's overlapping and
// conflicting ones: synth_liver's liver (with its tumour) and liver_tumour against
// synth_liver_tumour's tumour-only annotation and synth_abdomen's liver; the aorta, annotated in
// full by synth_abdomen and stopping at the kidneys in synth_vessel; the kidney and its tumour.
// =============================================================================================

import "quickstart.mt"  // the five synthetic datasets and quickstart_unet

// ---------------------------------------------------------------------------------------------
// Schedules. nnU-Net's SGD, poly decay over 6 epochs; the MultiTalent network's epochs are four
// times as long (4 datasets x 25 iterations), so its learning rate follows the same law.
// ---------------------------------------------------------------------------------------------

schedule claim_single_schedule {
  optimizer        sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  lr               poly(0.01, 0.9)
  epochs           6
  iterations       25
  validation       2
  checkpoint_every 2
}

schedule claim_md_schedule extends claim_single_schedule {
  iterations 100  // = 4 datasets x 25: the per-dataset networks' sum
}

// Fine-tuning as in the paper, shortened: the new heads alone for 1 epoch while the learning rate
// warms up, then the whole network with poly decay.
schedule claim_finetune_schedule {
  optimizer        sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  epochs           10
  iterations       25
  validation       2
  checkpoint_every 2
  phase heads { epochs 1  lr linear(0, 0.01) }
  phase all { epochs rest  lr poly(0.01, 0.9) }
}

// From scratch there is no backbone to protect: the same 10 x 25 iterations, all with poly decay
// (nnU-Net's schedule).
schedule claim_scratch_schedule extends claim_finetune_schedule {
  phase all { epochs rest  lr poly(0.01, 0.9) }
}

// ---------------------------------------------------------------------------------------------
// (a) Multi-dataset versus per-dataset training.
// ---------------------------------------------------------------------------------------------

// MultiTalent: one sigmoid output per class of the four datasets (8), the masked loss,
// 1/sqrt(n) case sampling.
experiment claim_md {
  datasets     [synth_liver, synth_liver_tumour, synth_abdomen, synth_vessel]
  architecture quickstart_unet
  schedule     claim_md_schedule
  batch        2
  sampling     inverse_sqrt
  loss         multitalent
  spacing      [4, 4, 4]
  folds        [0]
  seed         42
}

// nnU-Net's per-dataset baselines: the same network, patch, spacing, batch and seed, one dataset
// each, nnU-Net's Dice + cross-entropy: claim_single_synth_liver, ..., claim_single_synth_vessel.
family claim_single extends claim_md {
  datasets each(synth_liver, synth_liver_tumour, synth_abdomen, synth_vessel)
  schedule claim_single_schedule
  loss     dice_ce
}

// ---------------------------------------------------------------------------------------------
// (b) Fine-tuning the MultiTalent network versus training from scratch, on the held-out kidney.
// ---------------------------------------------------------------------------------------------

// The backbone of claim_md (its fold 0), new heads for kidney and kidney_tumour. Architecture and
// spacing are claim_md's; the kidney is normalised with claim_md's CT statistics.
experiment claim_kidney_finetune {
  pretrained claim_md
  datasets   [synth_kidney]
  schedule   claim_finetune_schedule
  batch      2
  loss       multitalent
  folds      [0]
  seed       42
}

// The same kidney training from random weights.
experiment claim_kidney_scratch {
  datasets     [synth_kidney]
  architecture quickstart_unet
  schedule     claim_scratch_schedule
  batch        2
  loss         multitalent
  spacing      [4, 4, 4]
  folds        [0]
  seed         42
}
