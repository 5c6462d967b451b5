// Node-API bindings for normact.cpp (all synchronous; outputs preallocated):
//   normActForward(x, scale, offset, B, N, C, eps, slope, y, mean, rstd)
//   normActBackward(x, y, dy, scale, mean, rstd, B, N, C, slope, dx, dbias, dscale, doffset)
//   lossStats(z, g, B, N, C, stats: Float64Array(4*B*C))
//   lossGrad(z, g, coef: Float32Array(3*B*C), B, N, C, dz)
// Float arguments are Float32Array unless noted; B, N, C are numbers.

#include <node_api.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "isa.h"
#include "normact.h"
#include "normact_addon.h"
#include "napi_util.h"

namespace mtc {
namespace {

const NormActKernelSet& Set() {
  return ForCurrentIsa(MTC_AVX512(&avx512::kNormActKernels), MTC_AVX2(&avx2::kNormActKernels), generic::kNormActKernels);
}

constexpr const char* kWho = "mtc native";

void Fail(napi_env env, const std::string& msg) { napi_util::Fail(env, kWho, msg); }

template <typename T>
bool Typed(napi_env env, napi_value v, napi_typedarray_type want, double length, const char* name, T** out) {
  return napi_util::Typed(env, v, want, length, name, out, kWho);
}

bool Number(napi_env env, napi_value v, const char* name, double* out) { return napi_util::Number(env, v, name, out, kWho); }

bool Shape(napi_env env, napi_value* argv, NormActShape* s) {
  double b, n, c;
  if (!Number(env, argv[0], "B", &b) || !Number(env, argv[1], "N", &n) || !Number(env, argv[2], "C", &c))
    return false;
  if (!(b >= 1 && n >= 1 && c >= 1) || b != static_cast<int>(b) || c != static_cast<int>(c) ||
      n != static_cast<double>(static_cast<int64_t>(n)) || b * n * c > 9.0e15) {
    Fail(env, "B, N, C must be positive integers");
    return false;
  }
  *s = NormActShape{static_cast<int>(b), static_cast<int64_t>(n), static_cast<int>(c)};
  return true;
}

bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) { return napi_util::Args(env, info, want, argv, kWho); }

using napi_util::Undefined;

}  // namespace

napi_value NormActForwardBinding(napi_env env, napi_callback_info info) {
  napi_value a[11];
  NormActShape s;
  if (!Args(env, info, 11, a) || !Shape(env, a + 3, &s)) return nullptr;
  const double total = 1.0 * s.B * s.N * s.C, bc = 1.0 * s.B * s.C;
  float *x, *scale, *offset, *y, *mean, *rstd;
  double eps, slope;
  if (!Typed(env, a[0], napi_float32_array, total, "x", &x) ||
      !Typed(env, a[1], napi_float32_array, s.C, "scale", &scale) ||
      !Typed(env, a[2], napi_float32_array, s.C, "offset", &offset) ||
      !Number(env, a[6], "eps", &eps) || !Number(env, a[7], "slope", &slope) ||
      !Typed(env, a[8], napi_float32_array, total, "y", &y) ||
      !Typed(env, a[9], napi_float32_array, bc, "mean", &mean) ||
      !Typed(env, a[10], napi_float32_array, bc, "rstd", &rstd))
    return nullptr;
  Set().forward(s, x, scale, offset, static_cast<float>(eps), static_cast<float>(slope), y, mean,
                rstd, GlobalPool());
  return Undefined(env);
}

napi_value NormActBackwardBinding(napi_env env, napi_callback_info info) {
  napi_value a[14];
  NormActShape s;
  if (!Args(env, info, 14, a) || !Shape(env, a + 6, &s)) return nullptr;
  const double total = 1.0 * s.B * s.N * s.C, bc = 1.0 * s.B * s.C;
  float *x, *y, *dy, *scale, *mean, *rstd, *dx, *dbias, *dscale, *doffset;
  double slope;
  if (!Typed(env, a[0], napi_float32_array, total, "x", &x) ||
      !Typed(env, a[1], napi_float32_array, total, "y", &y) ||
      !Typed(env, a[2], napi_float32_array, total, "dy", &dy) ||
      !Typed(env, a[3], napi_float32_array, s.C, "scale", &scale) ||
      !Typed(env, a[4], napi_float32_array, bc, "mean", &mean) ||
      !Typed(env, a[5], napi_float32_array, bc, "rstd", &rstd) ||
      !Number(env, a[9], "slope", &slope) ||
      !Typed(env, a[10], napi_float32_array, total, "dx", &dx) ||
      !Typed(env, a[11], napi_float32_array, s.C, "dbias", &dbias) ||
      !Typed(env, a[12], napi_float32_array, s.C, "dscale", &dscale) ||
      !Typed(env, a[13], napi_float32_array, s.C, "doffset", &doffset))
    return nullptr;
  Set().backward(s, x, y, dy, scale, mean, rstd, static_cast<float>(slope), dx, dbias, dscale,
                 doffset, GlobalPool());
  return Undefined(env);
}

napi_value LossStatsBinding(napi_env env, napi_callback_info info) {
  napi_value a[6];
  NormActShape s;
  if (!Args(env, info, 6, a) || !Shape(env, a + 2, &s)) return nullptr;
  const double total = 1.0 * s.B * s.N * s.C;
  float *z, *g;
  double* stats;
  if (!Typed(env, a[0], napi_float32_array, total, "z", &z) ||
      !Typed(env, a[1], napi_float32_array, total, "g", &g) ||
      !Typed(env, a[5], napi_float64_array, 4.0 * s.B * s.C, "stats", &stats))
    return nullptr;
  Set().loss_stats(s, z, g, stats, GlobalPool());
  return Undefined(env);
}

napi_value LossGradBinding(napi_env env, napi_callback_info info) {
  napi_value a[7];
  NormActShape s;
  if (!Args(env, info, 7, a) || !Shape(env, a + 3, &s)) return nullptr;
  const double total = 1.0 * s.B * s.N * s.C;
  float *z, *g, *coef, *dz;
  if (!Typed(env, a[0], napi_float32_array, total, "z", &z) ||
      !Typed(env, a[1], napi_float32_array, total, "g", &g) ||
      !Typed(env, a[2], napi_float32_array, 3.0 * s.B * s.C, "coef", &coef) ||
      !Typed(env, a[6], napi_float32_array, total, "dz", &dz))
    return nullptr;
  Set().loss_grad(s, z, g, coef, dz, GlobalPool());
  return Undefined(env);
}

}  // namespace mtc
