// KiTS19: kidney and kidney tumour. Import with:  import "std/datasets/kits19"
// The kidney class includes the tumour (a region). The folder name is this project's convention.

dataset kits19 {
  root  "Dataset040_KiTS19"
  cases 210
  labels { background 0  kidney 1  tumor 2 }
  classes {
    kidney        [kidney, tumor]
    kidney_tumour [tumor]  tags [cancer]
  }
}
