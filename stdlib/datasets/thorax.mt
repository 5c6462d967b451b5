// Thoracic organs at risk: StructSeg 2019 task 3 and SegTHOR.
// Import with:  import "std/datasets/thorax"
//
// Label values are the sources' own, in the order listed. Folder names are this project's
// convention (nnU-Net v2 style); rename `root` to match your folders.

// StructSeg 2019 task 3: thoracic organs at risk, labels 1..6.
dataset structseg_thorax {
  root  "Dataset020_StructSegThorax"
  cases 50
  labels { background 0  left_lung 1  right_lung 2  heart 3  esophagus 4  trachea 5  spinal_cord 6 }
  classes {
    left_lung   [left_lung]
    right_lung  [right_lung]
    heart       [heart]
    esophagus   [esophagus]
    trachea     [trachea]
    spinal_cord [spinal_cord]
  }
}

// SegTHOR (ISBI 2019): labels 1..4.
dataset segthor {
  root  "Dataset055_SegTHOR"
  cases 40
  labels { background 0  esophagus 1  heart 2  trachea 3  aorta 4 }
  classes {
    esophagus [esophagus]
    heart     [heart]
    trachea   [trachea]
    aorta     [aorta]
  }
}
