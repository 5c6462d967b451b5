// 3D convolution kernels as blocked implicit GEMMs.
//
// This file is compiled once per instruction set with MTC_ISA_NS naming the
// namespace (avx2: -mavx2 -mfma; generic: baseline x86-64 / any target). The
// arithmetic is written with GCC vector extensions (8 x float), which the
// compiler lowers to ymm FMAs under AVX2 and to pairs of SSE/NEON ops
// elsewhere, so both builds share one source.
//
// All three kernels reduce to the same register-blocked micro-kernel:
//   out[m, 0:NR] = sum_t sum_k x_t[m * xs + k] * w_t[k, 0:NR]
// with MR <= 6 output rows (broadcast side) and NR = 8 or 16 columns (vector
// side), i.e. at most 12 ymm accumulators.
//   forward:          m = output w-position, k = Cin,  t = filter tap
//   backprop input:   m = input w-position of one stride phase, k = Cout,
//                     t = the filter taps that reach that phase
//   backprop filter:  m = Cin, columns = Cout, k = output positions
// Inputs are copied once with zero padding along W so that the inner loops
// never test bounds; taps whose D/H coordinate is out of range are skipped
// per row.

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv3d.h"

#ifndef MTC_ISA_NS
#error "MTC_ISA_NS must be defined (avx2 or generic)"
#endif
#define MTC_STR2(x) #x
#define MTC_STR(x) MTC_STR2(x)

namespace mtc {
namespace MTC_ISA_NS {
namespace {

#include "simd.h"

constexpr int kMR = 6;  // rows per micro-tile (broadcast side)

// ---------------------------------------------------------------------------
// Micro-kernel shared by forward and backprop-input.
// xp[t] points at row m = 0 of tap t, wp[t] at the packed weights [K][NV*8]
// of tap t. Stores MR rows of `ncols` (<= NV*8) values at out + m * os.
template <int MR, int NV>
inline void TapGemm(int T, const float* const* xp, const float* const* wp, int K,
                    int64_t xs, float* out, int64_t os, int ncols) {
  v8 acc[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[m][v] = v8{};
  for (int t = 0; t < T; ++t) {
    const float* x = xp[t];
    const float* w = wp[t];
    for (int k = 0; k < K; ++k) {
      v8 wv[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) wv[v] = Load(w + v * 8);
      w += NV * 8;
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const float xv = x[m * xs + k];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[m][v] += wv[v] * xv;
      }
    }
  }
  if (ncols == NV * 8) {
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) Store(out + m * os + v * 8, acc[m][v]);
  } else {
    float tmp[NV * 8];
    for (int m = 0; m < MR; ++m) {
      for (int v = 0; v < NV; ++v) Store(tmp + v * 8, acc[m][v]);
      std::memcpy(out + m * os, tmp, sizeof(float) * ncols);
    }
  }
}

template <int NV>
void TapGemmRow(int L, int T, const float** xbase, const float** xp, const float* const* wp,
                int K, int64_t xs, float* out, int64_t os, int ncols) {
  int m0 = 0;
  for (; m0 + kMR <= L; m0 += kMR) {
    for (int t = 0; t < T; ++t) xp[t] = xbase[t] + m0 * xs;
    TapGemm<kMR, NV>(T, xp, wp, K, xs, out + m0 * os, os, ncols);
  }
  const int rem = L - m0;
  if (rem == 0) return;
  for (int t = 0; t < T; ++t) xp[t] = xbase[t] + m0 * xs;
  float* o = out + m0 * os;
  switch (rem) {
    case 1: TapGemm<1, NV>(T, xp, wp, K, xs, o, os, ncols); break;
    case 2: TapGemm<2, NV>(T, xp, wp, K, xs, o, os, ncols); break;
    case 3: TapGemm<3, NV>(T, xp, wp, K, xs, o, os, ncols); break;
    case 4: TapGemm<4, NV>(T, xp, wp, K, xs, o, os, ncols); break;
    default: TapGemm<5, NV>(T, xp, wp, K, xs, o, os, ncols); break;
  }
}

// Column blocks of width 16, the last one 8 wide when 8 or fewer remain.
struct ColBlock {
  int start;   // first column
  int width;   // 8 or 16 (packed width)
  int valid;   // real columns in this block (<= width)
  int64_t packed_offset;  // floats into the packed weight buffer
};

std::vector<ColBlock> MakeColBlocks(int n, int64_t rows_per_block) {
  std::vector<ColBlock> blocks;
  int64_t off = 0;
  for (int c = 0; c < n;) {
    const int left = n - c;
    const int width = left <= 8 ? 8 : 16;
    const int valid = std::min(left, width);
    blocks.push_back({c, width, valid, off});
    off += rows_per_block * width;
    c += valid;
  }
  return blocks;
}

int64_t PackedSize(const std::vector<ColBlock>& blocks, int64_t rows) {
  int64_t s = 0;
  for (const auto& b : blocks) s += rows * b.width;
  return s;
}

// Copies src [rows][W][C] into dst [rows][lo + W + hi][C] with zero borders.
void PadW(const float* src, float* dst, int64_t rows, int W, int C, int lo, int hi,
          ThreadPool& pool) {
  const int64_t src_row = static_cast<int64_t>(W) * C;
  const int64_t dst_row = static_cast<int64_t>(lo + W + hi) * C;
  pool.ParallelFor(rows, std::max<int64_t>(1, rows / 64), pool.size(),
                   [&](int64_t r0, int64_t r1, int) {
                     for (int64_t r = r0; r < r1; ++r) {
                       float* d = dst + r * dst_row;
                       std::memset(d, 0, sizeof(float) * lo * C);
                       std::memcpy(d + static_cast<int64_t>(lo) * C, src + r * src_row,
                                   sizeof(float) * src_row);
                       std::memset(d + static_cast<int64_t>(lo + W) * C, 0,
                                   sizeof(float) * hi * C);
                     }
                   });
}

// Per-calling-thread scratch, reused across calls so large padded copies do
// not page-fault on every call. Buffers above kScratchKeepBytes are released
// after the call instead of being kept alive.
constexpr size_t kScratchKeepBytes = size_t{64} << 20;

class Scratch {
 public:
  explicit Scratch(int slot) : buf_(Slots()[slot]) {}
  ~Scratch() {
    if (buf_.size() * sizeof(float) > kScratchKeepBytes) std::vector<float>().swap(buf_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  // Contents are unspecified; callers overwrite every element they read.
  float* Get(size_t n) {
    if (buf_.size() < n) buf_.resize(n);
    return buf_.data();
  }

 private:
  static std::vector<float>* Slots() {
    static thread_local std::vector<float> slots[2];
    return slots;
  }
  std::vector<float>& buf_;
};

int ThreadsFor(double flops, ThreadPool& pool) {
  // Below ~1 MFLOP the wake-up cost outweighs the gain.
  return flops < 1e6 ? 1 : pool.size();
}

inline int FloorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ---------------------------------------------------------------------------
// Forward: y[b,od,oh,ow,co] = sum x[b, od*sd-pf+kd, oh*sh-pt+kh, ow*sw-pl+kw, ci]
//                               * w[kd,kh,kw,ci,co]
void Forward(const ConvParams& p, const float* x, const float* w, float* y,
             ThreadPool& pool) {
  const int taps = p.kd * p.kh * p.kw;
  const int lo = p.pl;
  const int hi = std::max(0, (p.Wo - 1) * p.sw - p.pl + p.kw - 1 - (p.Wi - 1));
  const int WiP = p.Wi + lo + hi;
  const int64_t xrows = static_cast<int64_t>(p.B) * p.Di * p.Hi;

  Scratch xpad_store(0);
  const float* xp = x;
  if (lo != 0 || hi != 0) {
    float* buf = xpad_store.Get(static_cast<size_t>(xrows) * WiP * p.Ci);
    PadW(x, buf, xrows, p.Wi, p.Ci, lo, hi, pool);
    xp = buf;
  }

  // Pack weights: block j -> [tap][ci][width].
  const auto blocks = MakeColBlocks(p.Co, static_cast<int64_t>(taps) * p.Ci);
  std::vector<float> wpk(PackedSize(blocks, static_cast<int64_t>(taps) * p.Ci), 0.f);
  for (const auto& bl : blocks)
    for (int64_t r = 0; r < static_cast<int64_t>(taps) * p.Ci; ++r)
      std::memcpy(&wpk[bl.packed_offset + r * bl.width], w + r * p.Co + bl.start,
                  sizeof(float) * bl.valid);

  const double flops = 2.0 * p.B * p.Do * p.Ho * p.Wo * p.Co * taps * p.Ci;
  const int nthreads = ThreadsFor(flops, pool);
  const int64_t rows = static_cast<int64_t>(p.B) * p.Do * p.Ho;
  std::vector<const float*> scratch(static_cast<size_t>(pool.size()) * taps * 3);
  std::vector<int> tap_index_store(static_cast<size_t>(pool.size()) * taps);
  const int64_t xs = static_cast<int64_t>(p.sw) * p.Ci;

  pool.ParallelFor(rows, std::max<int64_t>(1, rows / (nthreads * 16)), nthreads,
                   [&](int64_t r0, int64_t r1, int tid) {
    const float** xbase = &scratch[static_cast<size_t>(tid) * taps * 3];
    const float** xcur = xbase + taps;
    const float** wcur = xbase + 2 * taps;
    int* tap_index = &tap_index_store[static_cast<size_t>(tid) * taps];
    for (int64_t r = r0; r < r1; ++r) {
      const int oh = static_cast<int>(r % p.Ho);
      const int od = static_cast<int>((r / p.Ho) % p.Do);
      const int b = static_cast<int>(r / (static_cast<int64_t>(p.Ho) * p.Do));
      int T = 0;
      for (int kd = 0; kd < p.kd; ++kd) {
        const int id = od * p.sd - p.pf + kd;
        if (id < 0 || id >= p.Di) continue;
        for (int kh = 0; kh < p.kh; ++kh) {
          const int ih = oh * p.sh - p.pt + kh;
          if (ih < 0 || ih >= p.Hi) continue;
          const float* row =
              xp + ((static_cast<int64_t>(b) * p.Di + id) * p.Hi + ih) * WiP * p.Ci;
          for (int kw = 0; kw < p.kw; ++kw) {
            xbase[T] = row + static_cast<int64_t>(kw) * p.Ci;
            tap_index[T] = (kd * p.kh + kh) * p.kw + kw;
            ++T;
          }
        }
      }
      float* out = y + r * p.Wo * p.Co;
      for (const auto& bl : blocks) {
        const float* wb = &wpk[bl.packed_offset];
        for (int t = 0; t < T; ++t)
          wcur[t] = wb + static_cast<int64_t>(tap_index[t]) * p.Ci * bl.width;
        if (bl.width == 16)
          TapGemmRow<2>(p.Wo, T, xbase, xcur, wcur, p.Ci, xs, out + bl.start, p.Co, bl.valid);
        else
          TapGemmRow<1>(p.Wo, T, xbase, xcur, wcur, p.Ci, xs, out + bl.start, p.Co, bl.valid);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Backprop input: dx[b,id,ih,iw,ci] = sum over taps with
//   od = (id + pf - kd) / sd integral and in range (same for h, w) of
//   dy[b,od,oh,ow,co] * w[kd,kh,kw,ci,co].
// Input positions along W are grouped by phase r = iw mod sw; within a phase
// the contributing kw are fixed and ow advances by one per step of sw in iw.
void BackpropInput(const ConvParams& p, const float* dy, const float* w, float* dx,
                   ThreadPool& pool) {
  const int taps = p.kd * p.kh * p.kw;
  // W padding of dy so every (phase, kw, j) lands inside the buffer.
  int min_ow = 0, max_ow = p.Wo - 1;
  for (int r = 0; r < p.sw && r < p.Wi; ++r) {
    const int nj = (p.Wi - r + p.sw - 1) / p.sw;
    for (int kw = 0; kw < p.kw; ++kw) {
      const int num = r + p.pl - kw;
      if (((num % p.sw) + p.sw) % p.sw != 0) continue;
      const int s = FloorDiv(num, p.sw);
      min_ow = std::min(min_ow, s);
      max_ow = std::max(max_ow, s + nj - 1);
    }
  }
  const int lo = -min_ow;
  const int hi = max_ow - (p.Wo - 1);
  const int WoP = p.Wo + lo + hi;
  const int64_t dyrows = static_cast<int64_t>(p.B) * p.Do * p.Ho;

  Scratch dypad_store(0);
  const float* dyp = dy;
  if (lo != 0 || hi != 0) {
    float* buf = dypad_store.Get(static_cast<size_t>(dyrows) * WoP * p.Co);
    PadW(dy, buf, dyrows, p.Wo, p.Co, lo, hi, pool);
    dyp = buf;
  }

  // Pack transposed weights: block over ci -> [tap][co][width].
  const auto blocks = MakeColBlocks(p.Ci, static_cast<int64_t>(taps) * p.Co);
  std::vector<float> wpk(PackedSize(blocks, static_cast<int64_t>(taps) * p.Co), 0.f);
  for (const auto& bl : blocks)
    for (int t = 0; t < taps; ++t)
      for (int co = 0; co < p.Co; ++co) {
        float* d = &wpk[bl.packed_offset + (static_cast<int64_t>(t) * p.Co + co) * bl.width];
        const float* s = w + (static_cast<int64_t>(t) * p.Ci + bl.start) * p.Co + co;
        for (int c = 0; c < bl.valid; ++c) d[c] = s[static_cast<int64_t>(c) * p.Co];
      }

  const double flops = 2.0 * p.B * p.Do * p.Ho * p.Wo * p.Co * taps * p.Ci;
  const int nthreads = ThreadsFor(flops, pool);
  const int64_t rows = static_cast<int64_t>(p.B) * p.Di * p.Hi;
  std::vector<const float*> scratch(static_cast<size_t>(pool.size()) * taps * 3);
  std::vector<int> tap_index_store(static_cast<size_t>(pool.size()) * taps);

  pool.ParallelFor(rows, std::max<int64_t>(1, rows / (nthreads * 16)), nthreads,
                   [&](int64_t r0, int64_t r1, int tid) {
    const float** xbase = &scratch[static_cast<size_t>(tid) * taps * 3];
    const float** xcur = xbase + taps;
    const float** wcur = xbase + 2 * taps;
    int* tap_index = &tap_index_store[static_cast<size_t>(tid) * taps];
    for (int64_t r = r0; r < r1; ++r) {
      const int ih = static_cast<int>(r % p.Hi);
      const int id = static_cast<int>((r / p.Hi) % p.Di);
      const int b = static_cast<int>(r / (static_cast<int64_t>(p.Hi) * p.Di));
      float* out_row = dx + r * p.Wi * p.Ci;
      for (int ph = 0; ph < p.sw && ph < p.Wi; ++ph) {
        const int nj = (p.Wi - ph + p.sw - 1) / p.sw;
        int T = 0;
        for (int kd = 0; kd < p.kd; ++kd) {
          const int nd = id + p.pf - kd;
          if (nd < 0 || nd % p.sd != 0) continue;
          const int od = nd / p.sd;
          if (od >= p.Do) continue;
          for (int kh = 0; kh < p.kh; ++kh) {
            const int nh = ih + p.pt - kh;
            if (nh < 0 || nh % p.sh != 0) continue;
            const int oh = nh / p.sh;
            if (oh >= p.Ho) continue;
            const float* row =
                dyp + ((static_cast<int64_t>(b) * p.Do + od) * p.Ho + oh) * WoP * p.Co;
            for (int kw = 0; kw < p.kw; ++kw) {
              const int nw = ph + p.pl - kw;
              if (((nw % p.sw) + p.sw) % p.sw != 0) continue;
              const int ow0 = FloorDiv(nw, p.sw) + lo;
              xbase[T] = row + static_cast<int64_t>(ow0) * p.Co;
              tap_index[T] = (kd * p.kh + kh) * p.kw + kw;
              ++T;
            }
          }
        }
        float* out = out_row + static_cast<int64_t>(ph) * p.Ci;
        const int64_t os = static_cast<int64_t>(p.sw) * p.Ci;
        for (const auto& bl : blocks) {
          const float* wb = &wpk[bl.packed_offset];
          for (int t = 0; t < T; ++t)
            wcur[t] = wb + static_cast<int64_t>(tap_index[t]) * p.Co * bl.width;
          if (bl.width == 16)
            TapGemmRow<2>(nj, T, xbase, xcur, wcur, p.Co, p.Co, out + bl.start, os, bl.valid);
          else
            TapGemmRow<1>(nj, T, xbase, xcur, wcur, p.Co, p.Co, out + bl.start, os, bl.valid);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Backprop filter: dw[kd,kh,kw,ci,co] = sum_{b,od,oh,ow}
//   x[b, od*sd-pf+kd, oh*sh-pt+kh, ow*sw-pl+kw, ci] * dy[b,od,oh,ow,co]
// Micro-tile: MR input channels x NV*8 output channels, reduced over a chunk
// of output rows of one (b, od) plane, then added to a per-thread partial.

template <int MR, int NV>
inline void FilterTile(int nrows, const float* const* xrows, const float* const* dyrows,
                       int L, int64_t xs, int64_t dys, float* acc_out, int64_t acc_stride) {
  v8 acc[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[m][v] = v8{};
  for (int i = 0; i < nrows; ++i) {
    const float* xr = xrows[i];
    const float* dr = dyrows[i];
    for (int l = 0; l < L; ++l) {
      v8 dv[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) dv[v] = Load(dr + v * 8);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const float xv = xr[m];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[m][v] += dv[v] * xv;
      }
      xr += xs;
      dr += dys;
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      float* o = acc_out + m * acc_stride + v * 8;
      Store(o, Load(o) + acc[m][v]);
    }
}

template <int NV>
void FilterTileAnyMR(int mr, int nrows, const float* const* xrows, const float* const* dyrows,
                     int L, int64_t xs, int64_t dys, float* acc_out, int64_t acc_stride) {
  switch (mr) {
    case 1: FilterTile<1, NV>(nrows, xrows, dyrows, L, xs, dys, acc_out, acc_stride); break;
    case 2: FilterTile<2, NV>(nrows, xrows, dyrows, L, xs, dys, acc_out, acc_stride); break;
    case 3: FilterTile<3, NV>(nrows, xrows, dyrows, L, xs, dys, acc_out, acc_stride); break;
    case 4: FilterTile<4, NV>(nrows, xrows, dyrows, L, xs, dys, acc_out, acc_stride); break;
    case 5: FilterTile<5, NV>(nrows, xrows, dyrows, L, xs, dys, acc_out, acc_stride); break;
    default: FilterTile<6, NV>(nrows, xrows, dyrows, L, xs, dys, acc_out, acc_stride); break;
  }
}

void BackpropFilter(const ConvParams& p, const float* x, const float* dy, float* dw,
                    ThreadPool& pool) {
  const int taps = p.kd * p.kh * p.kw;
  const int lo = p.pl;
  const int hi = std::max(0, (p.Wo - 1) * p.sw - p.pl + p.kw - 1 - (p.Wi - 1));
  const int WiP = p.Wi + lo + hi;
  const int64_t xrows = static_cast<int64_t>(p.B) * p.Di * p.Hi;

  Scratch xpad_store(0);
  const float* xp = x;
  if (lo != 0 || hi != 0) {
    float* buf = xpad_store.Get(static_cast<size_t>(xrows) * WiP * p.Ci);
    PadW(x, buf, xrows, p.Wi, p.Ci, lo, hi, pool);
    xp = buf;
  }
  // dy with channels padded to a multiple of 8 so vector loads stay in bounds.
  const int CoP = (p.Co + 7) / 8 * 8;
  const int64_t positions = static_cast<int64_t>(p.B) * p.Do * p.Ho * p.Wo;
  Scratch dypad_store(1);
  const float* dyc = dy;
  if (CoP != p.Co) {
    float* buf = dypad_store.Get(static_cast<size_t>(positions) * CoP);
    for (int64_t i = 0; i < positions; ++i) {
      std::memcpy(buf + i * CoP, dy + i * p.Co, sizeof(float) * p.Co);
      std::memset(buf + i * CoP + p.Co, 0, sizeof(float) * (CoP - p.Co));
    }
    dyc = buf;
  }

  const double flops = 2.0 * positions * p.Co * taps * p.Ci;
  const int nthreads = ThreadsFor(flops, pool);
  const int64_t planes = static_cast<int64_t>(p.B) * p.Do;
  // Split planes into row chunks when there are too few planes to balance.
  const int64_t want_items = static_cast<int64_t>(nthreads) * 8;
  const int chunks_per_plane =
      planes >= want_items ? 1
                           : static_cast<int>(std::min<int64_t>(p.Ho, (want_items + planes - 1) / planes));
  const int rows_per_chunk = (p.Ho + chunks_per_plane - 1) / chunks_per_plane;
  const int64_t items = planes * chunks_per_plane;

  // Determinism: the items are cut into a fixed number of contiguous groups, each summed in order
  // into its own partial and the partials added in group order, so the result does not depend on
  // which thread ran what, nor on the thread count (up to kFilterGroups threads share the work).
  constexpr int kFilterGroups = 4;
  const int64_t groups = std::min<int64_t>(kFilterGroups, items);
  const int64_t dw_size = static_cast<int64_t>(taps) * p.Ci * CoP;
  std::vector<float> partial(static_cast<size_t>(groups) * dw_size, 0.f);
  std::vector<const float*> scratch(static_cast<size_t>(pool.size()) * 2 * p.Ho);

  pool.ParallelFor(groups, 1, std::min<int>(nthreads, static_cast<int>(groups)), [&](int64_t g0, int64_t g1, int tid) {
   for (int64_t g = g0; g < g1; ++g) {
    float* acc = &partial[static_cast<size_t>(g) * dw_size];
    const float** xr = &scratch[static_cast<size_t>(tid) * 2 * p.Ho];
    const float** dr = xr + p.Ho;
    const int64_t i0 = items * g / groups;
    const int64_t i1 = items * (g + 1) / groups;
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t plane = item / chunks_per_plane;
      const int chunk = static_cast<int>(item % chunks_per_plane);
      const int od = static_cast<int>(plane % p.Do);
      const int b = static_cast<int>(plane / p.Do);
      const int oh0 = chunk * rows_per_chunk;
      const int oh1 = std::min(p.Ho, oh0 + rows_per_chunk);
      if (oh0 >= oh1) continue;
      for (int kd = 0; kd < p.kd; ++kd) {
        const int id = od * p.sd - p.pf + kd;
        if (id < 0 || id >= p.Di) continue;
        for (int kh = 0; kh < p.kh; ++kh) {
          int nrows = 0;
          for (int oh = oh0; oh < oh1; ++oh) {
            const int ih = oh * p.sh - p.pt + kh;
            if (ih < 0 || ih >= p.Hi) continue;
            xr[nrows] = xp + ((static_cast<int64_t>(b) * p.Di + id) * p.Hi + ih) * WiP * p.Ci;
            dr[nrows] = dyc + ((static_cast<int64_t>(b) * p.Do + od) * p.Ho + oh) * p.Wo * CoP;
            ++nrows;
          }
          if (nrows == 0) continue;
          for (int kw = 0; kw < p.kw; ++kw) {
            const int tap = (kd * p.kh + kh) * p.kw + kw;
            const int64_t xoff = static_cast<int64_t>(kw) * p.Ci;
            for (int ci0 = 0; ci0 < p.Ci; ci0 += kMR) {
              const int mr = std::min(kMR, p.Ci - ci0);
              // Shift row pointers to (kw, ci0) for this tile.
              for (int i = 0; i < nrows; ++i) xr[i] += xoff + ci0;
              for (int co0 = 0; co0 < CoP;) {
                const int width = CoP - co0 >= 16 ? 16 : 8;
                float* out = acc + (static_cast<int64_t>(tap) * p.Ci + ci0) * CoP + co0;
                for (int i = 0; i < nrows; ++i) dr[i] += co0;
                if (width == 16)
                  FilterTileAnyMR<2>(mr, nrows, xr, dr, p.Wo, static_cast<int64_t>(p.sw) * p.Ci,
                                     CoP, out, CoP);
                else
                  FilterTileAnyMR<1>(mr, nrows, xr, dr, p.Wo, static_cast<int64_t>(p.sw) * p.Ci,
                                     CoP, out, CoP);
                for (int i = 0; i < nrows; ++i) dr[i] -= co0;
                co0 += width;
              }
              for (int i = 0; i < nrows; ++i) xr[i] -= xoff + ci0;
            }
          }
        }
      }
    }
   }
  });

  // Reduce the group partials, in group order, into dw [tap][ci][co].
  const int64_t out_rows = static_cast<int64_t>(taps) * p.Ci;
  for (int64_t r = 0; r < out_rows; ++r) {
    float* d = dw + r * p.Co;
    for (int c = 0; c < p.Co; ++c) {
      float s = 0.f;
      for (int64_t g = 0; g < groups; ++g) s += partial[static_cast<size_t>(g) * dw_size + r * CoP + c];
      d[c] = s;
    }
  }
}

}  // namespace

const KernelSet kKernels = {MTC_STR(MTC_ISA_NS), Forward, BackpropInput, BackpropFilter};

}  // namespace MTC_ISA_NS
}  // namespace mtc
