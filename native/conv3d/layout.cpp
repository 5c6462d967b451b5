// Layout and bias kernels of the U-Net's fused ops (model/fused.ts), over channels-last float32
// data: channel concatenation and its split, a per-channel bias add and the bias gradient (column
// sums), depth-to-space + bias (the kernel = stride transposed convolution) and its gradient, and
// LeakyReLU(a + b) (a residual block's end) with its gradient. Memory-bound copies and single
// additions, so one build serves every instruction set (the copies go through the C library's own
// dispatch). Work is cut into fixed blocks of rows; column sums are added per block in double and
// the blocks in order, so no result depends on the thread count.
//
//   concatChannels(a, b, n, Ca, Cb, out)          out [n, Ca + Cb]
//   splitChannels(g, n, Ca, Cb, ga, gb)           the inverse
//   addBias(x, bias, n, C, out)                   out = x + bias (rows of C)
//   columnSums(x, n, C, out)                      out[c] = sum over rows of x[., c]
//   depthToSpaceBias(x, bias, B, D, H, W, sz, sy, sx, C, out)
//   depthToSpaceBiasGrad(dy, B, D, H, W, sz, sy, sx, C, dx, dbias)
//   residualAct(a, b, slope, out)                 out = lrelu(a + b)
//   residualActGrad(y, g, slope, dz)              dz = y > 0 ? g : slope * g

#include "layout_addon.h"

#include <node_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "napi_util.h"
#include "thread_pool.h"

namespace mtc {
namespace {

// Rows per block of the column sums (fixed: the summation order depends on the shape only).
constexpr int64_t kSumRows = 2048;
// Below this many elements, one thread.
constexpr int64_t kMinParallel = 1 << 16;

constexpr const char* kWho = "mtc native layout";

bool F32(napi_env env, napi_value v, double length, const char* name, float** out) {
  return napi_util::Typed(env, v, napi_float32_array, length, name, out, kWho);
}

bool Ints(napi_env env, const napi_value* v, int count, const char* names, int64_t* out) {
  return napi_util::Sizes(env, v, count, names, out, kWho);
}

bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) { return napi_util::Args(env, info, want, argv, kWho); }

using napi_util::Undefined;

// fn(r0, r1) over [0, rows) in chunks; `elems` decides whether threads are worth waking.
template <typename Fn>
void ForRows(int64_t rows, int64_t elems, Fn&& fn) {
  ThreadPool& pool = GlobalPool();
  const int threads = elems < kMinParallel ? 1 : pool.size();
  pool.ParallelFor(rows, std::max<int64_t>(1, rows / (threads * 8)), threads,
                   [&](int64_t r0, int64_t r1, int) { fn(r0, r1); });
}

// Column sums of x [n, C] into out [C]: per fixed block of kSumRows rows in double, then the
// blocks in order.
void ColumnSums(const float* x, int64_t n, int64_t C, float* out) {
  const int64_t blocks = (n + kSumRows - 1) / kSumRows;
  std::vector<double> part(static_cast<size_t>(blocks * C), 0.0);
  ForRows(blocks, n * C, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double* p = part.data() + b * C;
      const int64_t r1 = std::min(n, (b + 1) * kSumRows);
      for (int64_t r = b * kSumRows; r < r1; ++r) {
        const float* xr = x + r * C;
        for (int64_t c = 0; c < C; ++c) p[c] += xr[c];
      }
    }
  });
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t b = 0; b < blocks; ++b) s += part[b * C + c];
    out[c] = static_cast<float>(s);
  }
}

}  // namespace

napi_value ConcatChannelsBinding(napi_env env, napi_callback_info info) {
  napi_value a[6];
  int64_t d[3];
  if (!Args(env, info, 6, a) || !Ints(env, a + 2, 3, "n, Ca, Cb", d)) return nullptr;
  const int64_t n = d[0], Ca = d[1], Cb = d[2];
  float *x, *y, *out;
  if (!F32(env, a[0], 1.0 * n * Ca, "a", &x) || !F32(env, a[1], 1.0 * n * Cb, "b", &y) ||
      !F32(env, a[5], 1.0 * n * (Ca + Cb), "out", &out))
    return nullptr;
  ForRows(n, n * (Ca + Cb), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::memcpy(out + r * (Ca + Cb), x + r * Ca, sizeof(float) * Ca);
      std::memcpy(out + r * (Ca + Cb) + Ca, y + r * Cb, sizeof(float) * Cb);
    }
  });
  return Undefined(env);
}

napi_value SplitChannelsBinding(napi_env env, napi_callback_info info) {
  napi_value a[6];
  int64_t d[3];
  if (!Args(env, info, 6, a) || !Ints(env, a + 1, 3, "n, Ca, Cb", d)) return nullptr;
  const int64_t n = d[0], Ca = d[1], Cb = d[2];
  float *g, *ga, *gb;
  if (!F32(env, a[0], 1.0 * n * (Ca + Cb), "g", &g) || !F32(env, a[4], 1.0 * n * Ca, "ga", &ga) ||
      !F32(env, a[5], 1.0 * n * Cb, "gb", &gb))
    return nullptr;
  ForRows(n, n * (Ca + Cb), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      std::memcpy(ga + r * Ca, g + r * (Ca + Cb), sizeof(float) * Ca);
      std::memcpy(gb + r * Cb, g + r * (Ca + Cb) + Ca, sizeof(float) * Cb);
    }
  });
  return Undefined(env);
}

napi_value AddBiasBinding(napi_env env, napi_callback_info info) {
  napi_value a[5];
  int64_t d[2];
  if (!Args(env, info, 5, a) || !Ints(env, a + 2, 2, "n, C", d)) return nullptr;
  const int64_t n = d[0], C = d[1];
  float *x, *bias, *out;
  if (!F32(env, a[0], 1.0 * n * C, "x", &x) || !F32(env, a[1], 1.0 * C, "bias", &bias) ||
      !F32(env, a[4], 1.0 * n * C, "out", &out))
    return nullptr;
  ForRows(n, n * C, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < C; ++c) out[r * C + c] = x[r * C + c] + bias[c];
  });
  return Undefined(env);
}

napi_value ColumnSumsBinding(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int64_t d[2];
  if (!Args(env, info, 4, a) || !Ints(env, a + 1, 2, "n, C", d)) return nullptr;
  float *x, *out;
  if (!F32(env, a[0], 1.0 * d[0] * d[1], "x", &x) || !F32(env, a[3], 1.0 * d[1], "out", &out)) return nullptr;
  ColumnSums(x, d[0], d[1], out);
  return Undefined(env);
}

// x [B, D, H, W, sz, sy, sx, C] -> out [B, D*sz, H*sy, W*sx, C] (+ bias), or back (grad).
struct D2S {
  int64_t B, D, H, W, sz, sy, sx, C;
  // Input rows: (b, d, h) with W * sz * sy * sx * C values each.
  int64_t Rows() const { return B * D * H; }
  template <typename Fn>
  void ForRow(int64_t row, Fn&& fn) const {  // fn(input offset, output offset) per run of C
    const int64_t h = row % H, d = (row / H) % D, b = row / (H * D);
    const int64_t OH = H * sy, OW = W * sx;
    int64_t p = row * W * sz * sy * sx * C;
    for (int64_t w = 0; w < W; ++w)
      for (int64_t kz = 0; kz < sz; ++kz)
        for (int64_t ky = 0; ky < sy; ++ky) {
          int64_t q = (((b * D * sz + d * sz + kz) * OH + h * sy + ky) * OW + w * sx) * C;
          for (int64_t kx = 0; kx < sx; ++kx, p += C, q += C) fn(p, q);
        }
  }
};

bool D2SDims(napi_env env, const napi_value* v, D2S* s) {
  int64_t d[8];
  if (!Ints(env, v, 8, "B, D, H, W, sz, sy, sx, C", d)) return false;
  *s = D2S{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]};
  return true;
}

napi_value DepthToSpaceBiasBinding(napi_env env, napi_callback_info info) {
  napi_value a[11];
  D2S s;
  if (!Args(env, info, 11, a) || !D2SDims(env, a + 2, &s)) return nullptr;
  const double total = 1.0 * s.B * s.D * s.H * s.W * s.sz * s.sy * s.sx * s.C;
  float *x, *bias, *out;
  if (!F32(env, a[0], total, "x", &x) || !F32(env, a[1], 1.0 * s.C, "bias", &bias) ||
      !F32(env, a[10], total, "out", &out))
    return nullptr;
  const int64_t C = s.C;
  ForRows(s.Rows(), static_cast<int64_t>(total), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      s.ForRow(r, [&](int64_t p, int64_t q) {
        for (int64_t c = 0; c < C; ++c) out[q + c] = x[p + c] + bias[c];
      });
  });
  return Undefined(env);
}

napi_value DepthToSpaceBiasGradBinding(napi_env env, napi_callback_info info) {
  napi_value a[11];
  D2S s;
  if (!Args(env, info, 11, a) || !D2SDims(env, a + 1, &s)) return nullptr;
  const double total = 1.0 * s.B * s.D * s.H * s.W * s.sz * s.sy * s.sx * s.C;
  float *dy, *dx, *db;
  if (!F32(env, a[0], total, "dy", &dy) || !F32(env, a[9], total, "dx", &dx) ||
      !F32(env, a[10], 1.0 * s.C, "dbias", &db))
    return nullptr;
  ForRows(s.Rows(), static_cast<int64_t>(total), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      s.ForRow(r, [&](int64_t p, int64_t q) { std::memcpy(dx + p, dy + q, sizeof(float) * s.C); });
  });
  // The bias gradient is the sum of dy over every output position (rows of C in dy's own layout).
  ColumnSums(dy, static_cast<int64_t>(total) / s.C, s.C, db);
  return Undefined(env);
}

// out[i] = f(p[i], q[i]) for i < n, in fixed blocks of 4096 shared among the threads (so the result
// does not depend on the thread count).
template <typename F>
void Map2(const float* p, const float* q, float* out, int64_t n, F f) {
  ForRows((n + 4095) / 4096, n, [&](int64_t b0, int64_t b1) {
    const int64_t e = std::min(n, b1 * 4096);
    for (int64_t i = b0 * 4096; i < e; ++i) out[i] = f(p[i], q[i]);
  });
}

// (p, q, slope, out): out[i] = f(p[i], q[i], slope) over arrays of one length.
template <typename F>
napi_value Elementwise2(napi_env env, napi_callback_info info, const char* np, const char* nq, const char* nout, F f) {
  napi_value a[4];
  if (!Args(env, info, 4, a)) return nullptr;
  float *p, *q, *out;
  int64_t n = 0;
  double slope;
  if (!napi_util::Typed(env, a[0], napi_float32_array, -1, np, &p, kWho, &n) || !F32(env, a[1], static_cast<double>(n), nq, &q) ||
      !napi_util::Number(env, a[2], "slope", &slope, kWho) || !F32(env, a[3], static_cast<double>(n), nout, &out))
    return nullptr;
  const float sl = static_cast<float>(slope);
  Map2(p, q, out, n, [&](float x, float y) { return f(x, y, sl); });
  return Undefined(env);
}

napi_value ResidualActBinding(napi_env env, napi_callback_info info) {
  return Elementwise2(env, info, "a", "b", "out", [](float x, float y, float sl) {
    const float z = x + y;
    return z > 0.f ? z : sl * z;
  });
}

// (a, b, out): out = a + b, the sum backprop takes of a tensor's gradients when it is used twice.
napi_value AddBinding(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!Args(env, info, 3, a)) return nullptr;
  float *p, *q, *out;
  int64_t n = 0;
  if (!napi_util::Typed(env, a[0], napi_float32_array, -1, "a", &p, kWho, &n) || !F32(env, a[1], static_cast<double>(n), "b", &q) ||
      !F32(env, a[2], static_cast<double>(n), "out", &out))
    return nullptr;
  Map2(p, q, out, n, [](float x, float y) { return x + y; });
  return Undefined(env);
}

napi_value ResidualActGradBinding(napi_env env, napi_callback_info info) {
  return Elementwise2(env, info, "y", "g", "dz", [](float y, float g, float sl) { return y > 0.f ? g : sl * g; });
}

}  // namespace mtc
