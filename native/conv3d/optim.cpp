// Optimiser range kernels (see optim.h). Plain loops in double that the compiler vectorises for
// the build's instruction set; compiled with -ffp-contract=off so no build fuses a multiply and an
// add (which would change the rounding).

#include "optim.h"

#include <cmath>

#ifndef MTC_ISA_NS
#error "MTC_ISA_NS must be defined (avx512, avx2 or generic)"
#endif

namespace mtc {
namespace MTC_ISA_NS {
namespace {

// torch.optim.SGD (dampening 0): g += wd * w; buf = mu * buf + g (buf = g on the first step);
// step = nesterov ? g + mu * buf : buf; w -= lr * step.
void SgdRange(const float* w, const float* gr, float* buf, float* out, int64_t n, bool first,
              const SgdHyper& h) {
  const double wd = h.weight_decay, mu = h.momentum, lr = h.lr;
  if (mu == 0) {
    for (int64_t k = 0; k < n; ++k) {
      const double wk = w[k];
      const double g = static_cast<double>(gr[k]) + wd * wk;
      out[k] = static_cast<float>(wk - lr * g);
    }
    return;
  }
  if (first) {
    for (int64_t k = 0; k < n; ++k) {
      const double wk = w[k];
      const double g = static_cast<double>(gr[k]) + wd * wk;
      const double b = g;
      buf[k] = static_cast<float>(b);
      const double step = h.nesterov ? g + mu * b : b;
      out[k] = static_cast<float>(wk - lr * step);
    }
    return;
  }
  if (h.nesterov) {
    for (int64_t k = 0; k < n; ++k) {
      const double wk = w[k];
      const double g = static_cast<double>(gr[k]) + wd * wk;
      const double b = mu * static_cast<double>(buf[k]) + g;
      buf[k] = static_cast<float>(b);
      out[k] = static_cast<float>(wk - lr * (g + mu * b));
    }
  } else {
    for (int64_t k = 0; k < n; ++k) {
      const double wk = w[k];
      const double g = static_cast<double>(gr[k]) + wd * wk;
      const double b = mu * static_cast<double>(buf[k]) + g;
      buf[k] = static_cast<float>(b);
      out[k] = static_cast<float>(wk - lr * b);
    }
  }
}

// torch.optim.AdamW: w *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// w -= lr * (m / bc1) / (sqrt(v / bc2) + eps); with AMSGrad vmax = max(vmax, v) replaces v there.
template <bool kAmsgrad>
void AdamwLoop(const float* w, const float* gr, float* m, float* v, float* vmax, float* out, int64_t n,
               double bc1, double bc2, const AdamHyper& h) {
  const double b1 = h.beta1, b2 = h.beta2, c1 = 1 - h.beta1, c2 = 1 - h.beta2;
  const double lr = h.lr, eps = h.eps, decay = h.decay;
  for (int64_t k = 0; k < n; ++k) {
    const double g = gr[k];
    const double mk = b1 * static_cast<double>(m[k]) + c1 * g;
    const double vk = b2 * static_cast<double>(v[k]) + c2 * g * g;
    m[k] = static_cast<float>(mk);
    v[k] = static_cast<float>(vk);
    double second = vk;
    if constexpr (kAmsgrad) {
      const double prev = vmax[k];
      second = vk > prev ? vk : prev;
      vmax[k] = static_cast<float>(second);
    }
    const double mhat = mk / bc1;
    const double vhat = second / bc2;
    out[k] = static_cast<float>(static_cast<double>(w[k]) * decay - lr * (mhat / (std::sqrt(vhat) + eps)));
  }
}

void AdamwRange(const float* w, const float* gr, float* m, float* v, float* vmax, float* out,
                int64_t n, double bc1, double bc2, const AdamHyper& h) {
  if (vmax) AdamwLoop<true>(w, gr, m, v, vmax, out, n, bc1, bc2, h);
  else AdamwLoop<false>(w, gr, m, v, vmax, out, n, bc1, bc2, h);
}

double SumSquares(const float* x, int64_t n) {
  double lanes[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      const double d = x[i + l];
      lanes[l] += d * d;
    }
  for (int l = 0; i + l < n; ++l) {
    const double d = x[i + l];
    lanes[l] += d * d;
  }
  double s = 0;
  for (int l = 0; l < 16; ++l) s += lanes[l];
  return s;
}

void Scale(const float* x, float coef, float* out, int64_t n) {
  for (int64_t k = 0; k < n; ++k) out[k] = x[k] * coef;
}

}  // namespace

const OptimKernelSet kOptimKernels = {SgdRange, AdamwRange, SumSquares, Scale};

}  // namespace MTC_ISA_NS
}  // namespace mtc
