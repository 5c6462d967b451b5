// =============================================================================================
// Real data: the quickstart's pre-trained network fine-tuned on one real CT, MSD Task09 case
// spleen_2 (a crop, 164x166x26 at 0.79x0.79x5 mm) with its manual spleen label, from
// ../shared/fixtures/realct. The data are read in place: scripts/realct-spleen.mjs makes the
// nnU-Net folder below from links (no copies), runs this experiment, predicts the scan with
// `mtc infer` and scores it with `mtc eval`.
//
// This is a pipeline check on real data, not a claim of generalisation: there is one scan. The
// folder lists it twice (cases spleen2a and spleen2b, the same files) with a one-fold split file
// (train on spleen2a, validate on spleen2b): one case to train on and one to evaluate.
// =============================================================================================

import "quickstart.mt"

dataset real_spleen {
  root     "realct/Dataset950_RealSpleen"
  modality CT
  cases    2
  split    "splits_final.json"
  labels { background 0  spleen 1 }
  classes {
    spleen [spleen]
  }
}

// Transfer from the synthetic pre-training (spacing 4 mm, patch 32^3, inherited), with the
// quickstart's fine-tuning schedule: 2 epochs of heads only, then 58 of the whole network.
experiment realct_spleen {
  pretrained quickstart_pretrain
  datasets   [real_spleen]
  schedule   short_finetune
  batch      2
  seed       42
}
