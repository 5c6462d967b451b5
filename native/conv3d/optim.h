// Optimiser steps and gradient-norm helpers over float32 parameter arrays (SGD with Nesterov
// momentum and weight decay, AdamW, the global L2 norm, gradient scaling). Compiled once per
// instruction set like kernels.cpp, but with -ffp-contract=off: the arithmetic is done in double
// exactly as the JavaScript reference (src/runtime/kernels/optim_ops.ts) writes it, so every build,
// every thread count and the reference give bit-identical results.
#pragma once

#include <cstdint>

namespace mtc {

struct SgdHyper {
  double lr, momentum, weight_decay;
  bool nesterov;
};

struct AdamHyper {
  double lr, beta1, beta2, eps;
  double decay;  // 1 - lr * weight_decay
};

// One range [0, n) of a parameter tensor. `first`: the momentum buffer starts as the gradient.
using SgdRangeFn = void (*)(const float* w, const float* g, float* buf, float* out, int64_t n,
                            bool first, const SgdHyper& h);
// bc1 = 1 - beta1^t, bc2 = 1 - beta2^t for this tensor's step count t. vmax: AMSGrad's running
// maximum of v (the step divides by it), or nullptr without AMSGrad.
using AdamRangeFn = void (*)(const float* w, const float* g, float* m, float* v, float* vmax,
                             float* out, int64_t n, double bc1, double bc2, const AdamHyper& h);
// Sum of squares of x[0, n) in double, in 16 lanes (lane l takes elements l, l + 16, ...),
// the lanes then added in order.
using SumSquaresFn = double (*)(const float* x, int64_t n);
// out = x * coef in float32.
using ScaleFn = void (*)(const float* x, float coef, float* out, int64_t n);

struct OptimKernelSet {
  SgdRangeFn sgd;
  AdamRangeFn adamw;
  SumSquaresFn sum_squares;
  ScaleFn scale;
};

namespace avx512 {
extern const OptimKernelSet kOptimKernels;
}
namespace avx2 {
extern const OptimKernelSet kOptimKernels;
}
namespace generic {
extern const OptimKernelSet kOptimKernels;
}

}  // namespace mtc
