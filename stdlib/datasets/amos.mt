// AMOS 2022 (CT): 15 abdominal organs; used for transfer, not in the pre-training collection.
// Import with:  import "std/datasets/amos"
// Label values are AMOS's own, 1..15. The folder name is nnU-Net v2's for the post-challenge
// release of task 1; rename `root` to match your folder.

dataset amos {
  root  "Dataset218_AMOS2022_postChallenge_task1"
  cases 300
  labels {
    background 0  spleen 1  right_kidney 2  left_kidney 3  gallbladder 4  esophagus 5  liver 6  stomach 7
    aorta      8  postcava 9  pancreas 10  right_adrenal_gland 11  left_adrenal_gland 12  duodenum 13
    bladder    14  prostate_uterus 15
  }
  classes {
    spleen              [spleen]
    right_kidney        [right_kidney]
    left_kidney         [left_kidney]
    gallbladder         [gallbladder]
    esophagus           [esophagus]
    liver               [liver]
    stomach             [stomach]
    aorta               [aorta]
    inferior_vena_cava  [postcava]
    pancreas            [pancreas]
    right_adrenal_gland [right_adrenal_gland]
    left_adrenal_gland  [left_adrenal_gland]
    duodenum            [duodenum]
    bladder             [bladder]
    prostate_uterus     [prostate_uterus]
  }
}
