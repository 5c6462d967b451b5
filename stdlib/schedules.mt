// Standard training schedules. Import with:  import "std/schedules"
//
// Every value written here is also nnU-Net's default, so a schedule that leaves a field out gets
// the same number: SGD (momentum 0.99, Nesterov, weight decay 3e-5), lr poly(0.01, 0.9) set at each
// epoch start, 250 iterations per epoch, gradient-norm clip 12.

// nnU-Net's default: 1000 epochs of 250 iterations.
schedule nnunet_default {
  optimizer  sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  lr         poly(0.01, 0.9)
  epochs     1000
  iterations 250
  clip       12
}

// MultiTalent's multi-dataset pre-training: nnU-Net's schedule, twice as long (2000 epochs).
schedule multitalent_pretrain {
  optimizer  sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  lr         poly(0.01, 0.9)
  epochs     2000
  iterations 250
  clip       12
}

// MultiTalent's SwinUNETR: AdamW with learning rate 5e-4 (poly decay), 2000 epochs.
schedule multitalent_swin_pretrain {
  optimizer  adamw(beta1: 0.9, beta2: 0.999, weight_decay: 0.01)
  lr         poly(5e-4, 0.9)
  epochs     2000
  iterations 250
  clip       12
}

// Fine-tuning a pre-trained MultiTalent network on a new task (after Kumar et al.):
//   1. 10 epochs training only the new output heads, learning rate rising linearly;
//   2. 50 epochs warming up the whole network, learning rate rising linearly to 1e-2;
//   3. nnU-Net's poly decay from 1e-2 for the rest of the 1000 epochs.
// (The paper does not name the heads phase's optimiser or peak; this schedule uses SGD throughout.
// The authors' code is multitalent_finetune_adamw_heads below.)
schedule multitalent_finetune {
  optimizer  sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  epochs     1000
  iterations 250
  clip       12
  phase heads { epochs 10  lr linear(0, 0.01) }
  phase all { epochs 50  lr linear(0, 0.01) }
  phase all { epochs rest  lr poly(0.01, 0.9) }
}

// The fine-tuning schedule as the MultiTalent authors' code runs it: the heads phase with AdamW
// (AMSGrad, weight decay 3e-5), learning rate rising linearly to 5e-4; then a new SGD optimiser
// (the AdamW state does not carry over) warming the whole network up to 1e-2 over 50 epochs, then
// 1000 epochs of poly decay (1060 epochs in all, as in the code).
schedule multitalent_finetune_adamw_heads {
  optimizer  sgd(momentum: 0.99, nesterov: true, weight_decay: 3e-5)
  epochs     1060
  iterations 250
  clip       12
  phase heads {
    epochs    10
    lr        linear(0, 5e-4)
    optimizer adamw(beta1: 0.9, beta2: 0.999, weight_decay: 3e-5, amsgrad: true)
  }
  phase all { epochs 50  lr linear(0, 0.01) }
  phase all { epochs rest  lr poly(0.01, 0.9) }
}
