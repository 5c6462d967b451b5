// Shared declarations for the multitalent 3D-convolution kernels.
//
// Layouts follow TensorFlow.js: activations NDHWC, filters
// [kd, kh, kw, Cin, Cout]. Dilation is always 1 (the JS side falls back to
// tfjs for anything else).
#pragma once

#include <cstdint>

#include "thread_pool.h"

namespace mtc {

struct ConvParams {
  int B, Di, Hi, Wi, Ci;  // input  [B, Di, Hi, Wi, Ci]
  int Do, Ho, Wo, Co;     // output [B, Do, Ho, Wo, Co]
  int kd, kh, kw;         // filter [kd, kh, kw, Ci, Co]
  int sd, sh, sw;         // strides
  int pf, pt, pl;         // front / top / left padding (back/bottom/right implied)
};

// Number of int32 values the JS side passes, in ConvParams field order.
constexpr int kNumParams = 18;

// Returns nullptr when the parameters are consistent, else a message.
const char* ValidateParams(const ConvParams& p);

using ForwardFn = void (*)(const ConvParams&, const float* x, const float* w,
                           float* y, ThreadPool& pool);
using BackpropInputFn = void (*)(const ConvParams&, const float* dy,
                                 const float* w, float* dx, ThreadPool& pool);
using BackpropFilterFn = void (*)(const ConvParams&, const float* x,
                                  const float* dy, float* dw, ThreadPool& pool);

// Runs `iters` iterations of 12 independent FMA chains of the build's widest vector on the
// calling thread; returns the floating-point operations done (2 per FMA lane).
using FmaLoopFn = double (*)(int64_t iters);

struct KernelSet {
  const char* isa;
  ForwardFn forward;
  BackpropInputFn backprop_input;
  BackpropFilterFn backprop_filter;
  FmaLoopFn fma_loop;
  // The same chains, each FMA taking one float broadcast from memory as its multiplicand, as the
  // micro-kernels' single-vector tiles do: what such tiles can reach at most on this core.
  FmaLoopFn broadcast_fma_loop;
  int vector_lanes;  // float lanes of the widest vector the build uses
};

// One kernel set per instruction set; kernels.cpp is compiled once per ISA.
namespace avx512 {
extern const KernelSet kKernels;
}
namespace avx2 {
extern const KernelSet kKernels;
}
namespace generic {
extern const KernelSet kKernels;
}

}  // namespace mtc
