// NIH Pancreas-CT (TCIA). Import with:  import "std/datasets/nih_pancreas"
// The folder name is this project's convention (nnU-Net v2 style).

dataset nih_pancreas {
  root  "Dataset062_NIHPancreas"
  cases 82
  labels { background 0  pancreas 1 }
  classes {
    pancreas [pancreas]
  }
}
