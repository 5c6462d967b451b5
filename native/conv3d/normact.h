// Fused bias + InstanceNorm + LeakyReLU over channels-last activations
// [B, N, C] (N = spatial voxels), forward and backward, and the fused
// MultiTalent loss. Compiled once per instruction set like kernels.cpp.
#pragma once

#include <cstdint>

#include "thread_pool.h"

namespace mtc {

struct NormActShape {
  int B;      // batch
  int64_t N;  // voxels per sample
  int C;      // channels (innermost)
};

// y = lrelu((x - mean) * rstd * scale + offset) with mean, rstd of x per
// (sample, channel) [B*C] (out). A per-channel bias added to x before the
// norm cancels out of the value; its gradient is sum(dx).
using NormActForwardFn = void (*)(const NormActShape&, const float* x, const float* scale, const float* offset, float eps,
                                  float slope, float* y, float* mean, float* rstd,
                                  ThreadPool& pool);
// dx [B*N*C]; dbias, dscale, doffset [C] (written, not accumulated).
using NormActBackwardFn = void (*)(const NormActShape&, const float* x, const float* y,
                                   const float* dy, const float* scale, const float* mean,
                                   const float* rstd, float slope, float* dx, float* dbias,
                                   float* dscale, float* doffset, ThreadPool& pool);
// Per (b, c) sums over the N voxels of logits z and targets g:
// stats [4][B*C] = {sum BCE-with-logits, sum sigmoid(z)*g, sum sigmoid(z), sum g}.
using LossStatsFn = void (*)(const NormActShape&, const float* z, const float* g,
                             double* stats, ThreadPool& pool);
// coef [3][B*C] = {u, v, w} per (b, c):
//   dz = u * (p - g) - p * (1 - p) * (v * g - w),  p = sigmoid(z).
using LossGradFn = void (*)(const NormActShape&, const float* z, const float* g,
                            const float* coef, float* dz, ThreadPool& pool);

struct NormActKernelSet {
  NormActForwardFn forward;
  NormActBackwardFn backward;
  LossStatsFn loss_stats;
  LossGradFn loss_grad;
};

namespace avx512 {
extern const NormActKernelSet kNormActKernels;
}
namespace avx2 {
extern const NormActKernelSet kNormActKernels;
}
namespace generic {
extern const NormActKernelSet kNormActKernels;
}

}  // namespace mtc
