// The Beyond the Cranial Vault (BTCV, MICCAI 2015) challenge: abdomen and cervix (pelvis) CT,
// and the BTCV2 multi-organ reference segmentations of Gibson et al.
// Import with:  import "std/datasets/btcv"
//
// Label values are the sources' own, in the order listed. Folder names are this project's
// convention (nnU-Net v2 style); rename `root` to match your folders.

// BTCV abdomen: 13 organs, labels 1..13.
dataset btcv {
  root  "Dataset017_BTCV"
  cases 30
  labels {
    background         0  spleen 1  right_kidney 2  left_kidney 3  gallbladder 4  esophagus 5  liver 6  stomach 7
    aorta              8  inferior_vena_cava 9  portal_and_splenic_vein 10  pancreas 11  right_adrenal_gland 12
    left_adrenal_gland 13
  }
  classes {
    spleen                  [spleen]
    right_kidney            [right_kidney]
    left_kidney             [left_kidney]
    gallbladder             [gallbladder]
    esophagus               [esophagus]
    liver                   [liver]
    stomach                 [stomach]
    aorta                   [aorta]
    inferior_vena_cava      [inferior_vena_cava]
    portal_and_splenic_vein [portal_and_splenic_vein]
    pancreas                [pancreas]
    right_adrenal_gland     [right_adrenal_gland]
    left_adrenal_gland      [left_adrenal_gland]
  }
}

// BTCV cervix ("BTCV Pelvis"): 4 organs, labels 1..4.
dataset btcv_pelvis {
  root  "Dataset018_BTCVPelvis"
  cases 30
  labels { background 0  bladder 1  uterus 2  rectum 3  small_bowel 4 }
  classes {
    bladder     [bladder]
    uterus      [uterus]
    rectum      [rectum]
    small_bowel [small_bowel]
  }
}

// BTCV2: multi-organ abdominal CT reference segmentations (Gibson et al.), 8 organs, labels 1..8.
dataset btcv2 {
  root  "Dataset019_BTCV2"
  cases 73
  labels {
    background 0  spleen 1  left_kidney 2  gallbladder 3  esophagus 4  liver 5  stomach 6  pancreas 7
    duodenum   8
  }
  classes {
    spleen      [spleen]
    left_kidney [left_kidney]
    gallbladder [gallbladder]
    esophagus   [esophagus]
    liver       [liver]
    stomach     [stomach]
    pancreas    [pancreas]
    duodenum    [duodenum]
  }
}
