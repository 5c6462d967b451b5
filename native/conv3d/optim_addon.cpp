// Node-API bindings for the optimiser kernels (optim.cpp). Each call covers every parameter
// tensor of a step at once; the work is cut into fixed blocks of kBlock elements per tensor and
// shared by the pool's threads. All synchronous; outputs preallocated by the caller.
//
//   sgdStep(w[], g[], buf[], out[], first: Uint8Array, lr, momentum, nesterov: boolean, weightDecay)
//   adamwStep(w[], g[], m[], v[], vmax[] | null, out[], bc1: Float64Array, bc2: Float64Array,
//             lr, beta1, beta2, eps, decay)        (vmax: AMSGrad's running maxima, or null)
//   sumSquares(x[]): number            (deterministic: fixed blocks, added in order)
//   scaleArrays(x[], coef, out[])      (out = x * float32(coef))
// Arrays are JavaScript arrays of Float32Array unless noted.

#include "optim_addon.h"

#include <node_api.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "isa.h"
#include "napi_util.h"
#include "optim.h"
#include "thread_pool.h"

namespace mtc {
namespace {

constexpr int64_t kBlock = 32768;
// Below this many elements in all, one thread does the work.
constexpr int64_t kMinParallel = 1 << 16;

const OptimKernelSet& Set() {
  return ForCurrentIsa(MTC_AVX512(&avx512::kOptimKernels), MTC_AVX2(&avx2::kOptimKernels), generic::kOptimKernels);
}

constexpr const char* kWho = "mtc native optimiser";

void Fail(napi_env env, const std::string& msg) { napi_util::Fail(env, kWho, msg); }

struct Span {
  void* data;
  int64_t length;
};

bool TypedSpan(napi_env env, napi_value v, napi_typedarray_type want, const std::string& name, Span* out) {
  return napi_util::Typed(env, v, want, -1, name, &out->data, kWho, &out->length);
}

// A JS array of Float32Array, each of the length in `lengths` (filled from the first list read).
bool FloatList(napi_env env, napi_value v, const char* name, std::vector<int64_t>* lengths,
               std::vector<float*>* out) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  uint32_t n = 0;
  if (!is_array || napi_get_array_length(env, v, &n) != napi_ok) {
    Fail(env, std::string(name) + " must be an array of Float32Array");
    return false;
  }
  const bool first = lengths->empty() && out->empty();
  if (!first && n != lengths->size()) {
    Fail(env, std::string(name) + " has " + std::to_string(n) + " arrays, expected " + std::to_string(lengths->size()));
    return false;
  }
  out->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value el;
    napi_get_element(env, v, i, &el);
    const double want = first ? -1.0 : static_cast<double>((*lengths)[i]);
    int64_t len = 0;
    if (!napi_util::Typed(env, el, napi_float32_array, want, std::string(name) + "[" + std::to_string(i) + "]", &(*out)[i], kWho, &len))
      return false;
    if (first) lengths->push_back(len);
  }
  return true;
}

bool Number(napi_env env, napi_value v, const char* name, double* out) { return napi_util::Number(env, v, name, out, kWho); }

bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) { return napi_util::Args(env, info, want, argv, kWho); }

struct Block {
  int tensor;
  int64_t begin, end;
};

// Fixed blocks of every tensor, in tensor order; depends on the sizes only.
std::vector<Block> Blocks(const std::vector<int64_t>& lengths) {
  std::vector<Block> blocks;
  for (size_t t = 0; t < lengths.size(); ++t)
    for (int64_t b = 0; b < lengths[t]; b += kBlock)
      blocks.push_back({static_cast<int>(t), b, std::min(lengths[t], b + kBlock)});
  return blocks;
}

template <typename Fn>
void ForBlocks(const std::vector<Block>& blocks, int64_t total, Fn&& fn) {
  ThreadPool& pool = GlobalPool();
  const int threads = total < kMinParallel ? 1 : pool.size();
  pool.ParallelFor(static_cast<int64_t>(blocks.size()), 1, threads, [&](int64_t b0, int64_t b1, int) {
    for (int64_t i = b0; i < b1; ++i) fn(blocks[i], i);
  });
}

int64_t Total(const std::vector<int64_t>& lengths) {
  int64_t s = 0;
  for (int64_t n : lengths) s += n;
  return s;
}

using napi_util::Undefined;

}  // namespace

napi_value SgdStepBinding(napi_env env, napi_callback_info info) {
  napi_value a[9];
  if (!Args(env, info, 9, a)) return nullptr;
  std::vector<int64_t> len;
  std::vector<float*> w, g, buf, out;
  Span first;
  double lr, mu, wd;
  bool nesterov = false;
  if (!FloatList(env, a[0], "w", &len, &w) || !FloatList(env, a[1], "g", &len, &g) ||
      !FloatList(env, a[2], "buf", &len, &buf) || !FloatList(env, a[3], "out", &len, &out) ||
      !TypedSpan(env, a[4], napi_uint8_array, "first", &first) || !Number(env, a[5], "lr", &lr) ||
      !Number(env, a[6], "momentum", &mu) || !Number(env, a[8], "weightDecay", &wd))
    return nullptr;
  if (napi_get_value_bool(env, a[7], &nesterov) != napi_ok) {
    Fail(env, "nesterov must be a boolean");
    return nullptr;
  }
  if (first.length != static_cast<int64_t>(len.size())) {
    Fail(env, "first must have one entry per tensor");
    return nullptr;
  }
  const uint8_t* f = static_cast<const uint8_t*>(first.data);
  const SgdHyper h{lr, mu, wd, nesterov};
  const OptimKernelSet& k = Set();
  const auto blocks = Blocks(len);
  ForBlocks(blocks, Total(len), [&](const Block& b, int64_t) {
    const int t = b.tensor;
    k.sgd(w[t] + b.begin, g[t] + b.begin, buf[t] + b.begin, out[t] + b.begin, b.end - b.begin, f[t] != 0, h);
  });
  return Undefined(env);
}

napi_value AdamwStepBinding(napi_env env, napi_callback_info info) {
  napi_value a[13];
  if (!Args(env, info, 13, a)) return nullptr;
  std::vector<int64_t> len;
  std::vector<float*> w, g, m, v, vmax, out;
  Span bc1, bc2;
  AdamHyper h;
  napi_valuetype vmax_type;
  napi_typeof(env, a[4], &vmax_type);
  const bool amsgrad = vmax_type != napi_null && vmax_type != napi_undefined;
  if (!FloatList(env, a[0], "w", &len, &w) || !FloatList(env, a[1], "g", &len, &g) ||
      !FloatList(env, a[2], "m", &len, &m) || !FloatList(env, a[3], "v", &len, &v) ||
      (amsgrad && !FloatList(env, a[4], "vmax", &len, &vmax)) ||
      !FloatList(env, a[5], "out", &len, &out) || !TypedSpan(env, a[6], napi_float64_array, "bc1", &bc1) ||
      !TypedSpan(env, a[7], napi_float64_array, "bc2", &bc2) || !Number(env, a[8], "lr", &h.lr) ||
      !Number(env, a[9], "beta1", &h.beta1) || !Number(env, a[10], "beta2", &h.beta2) ||
      !Number(env, a[11], "eps", &h.eps) || !Number(env, a[12], "decay", &h.decay))
    return nullptr;
  if (bc1.length != static_cast<int64_t>(len.size()) || bc2.length != static_cast<int64_t>(len.size())) {
    Fail(env, "bc1 and bc2 must have one entry per tensor");
    return nullptr;
  }
  const double* c1 = static_cast<const double*>(bc1.data);
  const double* c2 = static_cast<const double*>(bc2.data);
  const OptimKernelSet& k = Set();
  const auto blocks = Blocks(len);
  ForBlocks(blocks, Total(len), [&](const Block& b, int64_t) {
    const int t = b.tensor;
    k.adamw(w[t] + b.begin, g[t] + b.begin, m[t] + b.begin, v[t] + b.begin,
            amsgrad ? vmax[t] + b.begin : nullptr, out[t] + b.begin, b.end - b.begin, c1[t], c2[t], h);
  });
  return Undefined(env);
}

napi_value SumSquaresBinding(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!Args(env, info, 1, a)) return nullptr;
  std::vector<int64_t> len;
  std::vector<float*> x;
  if (!FloatList(env, a[0], "x", &len, &x)) return nullptr;
  const OptimKernelSet& k = Set();
  const auto blocks = Blocks(len);
  std::vector<double> part(blocks.size(), 0.0);
  ForBlocks(blocks, Total(len), [&](const Block& b, int64_t i) {
    part[i] = k.sum_squares(x[b.tensor] + b.begin, b.end - b.begin);
  });
  double s = 0;
  for (double p : part) s += p;  // block order: independent of the thread count
  napi_value r;
  napi_create_double(env, s, &r);
  return r;
}

napi_value ScaleArraysBinding(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!Args(env, info, 3, a)) return nullptr;
  std::vector<int64_t> len;
  std::vector<float*> x, out;
  double coef;
  if (!FloatList(env, a[0], "x", &len, &x) || !Number(env, a[1], "coef", &coef) ||
      !FloatList(env, a[2], "out", &len, &out))
    return nullptr;
  const float c = static_cast<float>(coef);
  const OptimKernelSet& k = Set();
  const auto blocks = Blocks(len);
  ForBlocks(blocks, Total(len), [&](const Block& b, int64_t) {
    k.scale(x[b.tensor] + b.begin, c, out[b.tensor] + b.begin, b.end - b.begin);
  });
  return Undefined(env);
}

}  // namespace mtc
