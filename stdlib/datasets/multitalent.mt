// The MultiTalent paper's collection: 13 partially annotated abdominal and thoracic CT datasets,
// 47 classes in all (Table 3 of the paper). Import with:  import "std/datasets/multitalent"
// Importing this file makes all 13 datasets visible, and the class sets below.

import "std/datasets/msd"
import "std/datasets/btcv"
import "std/datasets/thorax"
import "std/datasets/nih_pancreas"
import "std/datasets/kits19"

// The cancer classes of the collection (the paper reports them as a group).
classset md_cancer {
  classes [tagged(cancer)]
}

// Classes that are a region of several labels (an organ including its tumour).
classset md_regions {
  classes [msd_liver.liver, msd_pancreas.pancreas, kits19.kidney]
}
