// The six CT tasks of the Medical Segmentation Decathlon (MSD) used by MultiTalent.
// Import with:  import "std/datasets/msd"
//
// Label values and names are the tasks' own (their dataset.json). Folder names follow nnU-Net v2
// (DatasetXXX_Name, XXX = the MSD task number). `cases` counts the training cases.

// MSD Task03: liver and liver tumour. The liver class includes the tumour (a region).
dataset msd_liver {
  root  "Dataset003_Liver"
  cases 131
  labels { background 0  liver 1  cancer 2 }
  classes {
    liver        [liver, cancer]
    liver_tumour [cancer]  tags [cancer]
  }
}

// MSD Task06: primary lung cancer nodules.
dataset msd_lung {
  root  "Dataset006_Lung"
  cases 63
  labels { background 0  cancer 1 }
  classes {
    lung_nodules [cancer]  tags [cancer]
  }
}

// MSD Task07: pancreas and pancreas tumour (cyst or tumour). The pancreas includes the tumour.
dataset msd_pancreas {
  root  "Dataset007_Pancreas"
  cases 281
  labels { background 0  pancreas 1  cancer 2 }
  classes {
    pancreas        [pancreas, cancer]
    pancreas_tumour [cancer]  tags [cancer]
  }
}

// MSD Task08: hepatic vessels and liver tumours (two separate structures).
dataset msd_hepatic_vessel {
  root  "Dataset008_HepaticVessel"
  cases 303
  labels { background 0  vessel 1  tumour 2 }
  classes {
    hepatic_vessels [vessel]
    hepatic_tumour  [tumour]  tags [cancer]
  }
}

// MSD Task09: spleen.
dataset msd_spleen {
  root  "Dataset009_Spleen"
  cases 41
  labels { background 0  spleen 1 }
  classes {
    spleen [spleen]
  }
}

// MSD Task10: colon cancer primaries.
dataset msd_colon {
  root  "Dataset010_Colon"
  cases 126
  labels { background 0  colon_cancer_primaries 1 }
  classes {
    colon_cancer [colon_cancer_primaries]  tags [cancer]
  }
}
