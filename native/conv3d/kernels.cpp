// 3D convolution kernels as blocked implicit GEMMs.
//
// This file is compiled once per instruction set with MTC_ISA_NS naming the
// namespace (avx512: -mavx512f/dq/bw/vl -mfma; avx2: -mavx2 -mfma; generic:
// baseline x86-64 / any target). The arithmetic is written with GCC vector
// extensions (v8 / v16 x float, simd.h), which the compiler lowers to zmm or
// ymm FMAs and to pairs of SSE/NEON ops elsewhere, so all builds share one
// source.
//
// All three kernels reduce to the same register-blocked micro-kernel:
//   out[m, 0:NR] = sum_t sum_k x_t[m * xs + k] * w_t[k, 0:NR]
// with MR output rows (broadcast side) and NR columns (vector side):
//   avx2 / generic: NR = 8 or 16 (1 or 2 v8), MR <= 6: at most 12 ymm accumulators;
//   avx512:         NR = 32 (2 v16, MR <= 12), 16 (1 v16, MR <= 14) or 8 (1 v8,
//                   MR <= 14): up to 24 of the 32 zmm registers accumulate.
// Each output element is accumulated in the same order (taps, then k; for the
// filter gradient rows, then positions) whatever MR, NR and the vector width,
// so the avx512 and avx2 builds give bit-identical results.
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

// ---------------------------------------------------------------------------
// Column blocks: a block of `width` output columns is NV vectors of type V.
// The avx512 build blocks by 32 (2 x v16), 16 (v16) and 8 (v8); the others by
// 16 (2 x v8) and 8 (v8). kMaxRows* bound the rows of one micro-tile (the
// broadcast side) so that the accumulators fit the register file.
#if defined(__AVX512F__)
constexpr int kMaxRowsWide = 12;    // 32-wide blocks: 24 accumulators
constexpr int kMaxRowsNarrow = 14;  // 16- and 8-wide blocks: 14 accumulators
#elif (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX__)
// The generic x86 build has 16 xmm registers and a v8 takes two: 12 xmm accumulators.
constexpr int kMaxRowsWide = 3;     // 16-wide blocks
constexpr int kMaxRowsNarrow = 6;   // 8-wide blocks
#else
constexpr int kMaxRowsWide = 6;     // 16-wide blocks: 12 accumulators, two weight vectors (16 ymm registers)
constexpr int kMaxRowsNarrow = 12;  // 8-wide blocks: 12 accumulators, one weight vector, one broadcast
#endif

// Width of the next column block when `left` columns remain (always 8, 16 or 32).
inline int BlockWidth(int left) {
  if (kHasV16) {
    if (left > 24) return 32;
    if (left > 8) return 16;
    return 8;
  }
  return left <= 8 ? 8 : 16;
}

// The largest rows per tile for a block of this width.
inline int MaxRows(int width) { return width == 32 || (!kHasV16 && width == 16) ? kMaxRowsWide : kMaxRowsNarrow; }

// Balanced tiling of L rows into tiles of at most `max_rows`: tile i of `n` has
// base or base + 1 rows.
struct Tiling {
  int tiles, base, extra;
  explicit Tiling(int L, int max_rows)
      : tiles((L + max_rows - 1) / max_rows), base(tiles ? L / tiles : 0), extra(tiles ? L % tiles : 0) {}
  int Rows(int i) const { return base + (i < extra ? 1 : 0); }
};

// ---------------------------------------------------------------------------
// Micro-kernel shared by forward and backprop-input.
// xp[t] points at row m = 0 of tap t, wp[t] at the packed weights [K][NV*lanes]
// of tap t. Stores MR rows of `ncols` (<= NV*lanes) values at out + m * os.
//
// XS > 0 is the row stride xs known at compile time (then the xs argument is ignored): every
// broadcast of the inner loop then reads x at a constant offset from one pointer. With a run-time
// stride the compiler needs one index register per row, which on Intel cores spills general
// registers into vector ones (moves that take FMA ports) and indexes every load; that alone cost
// a quarter of the FMA rate there (76-81 % of peak against 94-96 % in a micro-benchmark on an
// Intel Xeon with AVX-512). The arithmetic, and so every result bit, is the same either way.
template <int MR, int NV, typename V, int XS = 0>
inline void TapGemm(int T, const float* const* xp, const float* const* wp, int K,
                    int64_t xs_arg, float* out, int64_t os, int ncols) {
  constexpr int L = VecTraits<V>::kLanes;
  const int64_t xs = XS > 0 ? XS : xs_arg;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[m][v] = V{};
  for (int t = 0; t < T; ++t) {
    const float* x = xp[t];
    const float* w = wp[t];
    for (int k = 0; k < K; ++k) {
      V wv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) wv[v] = LoadV<V>(w + v * L);
      w += NV * L;
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) {
        const float xv = x[m * xs + k];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[m][v] += wv[v] * xv;
      }
    }
  }
  if (ncols == NV * L) {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) StoreV(out + m * os + v * L, acc[m][v]);
  } else {
    float tmp[NV * L];
    for (int m = 0; m < MR; ++m) {
      for (int v = 0; v < NV; ++v) StoreV(tmp + v * L, acc[m][v]);
      std::memcpy(out + m * os, tmp, sizeof(float) * ncols);
    }
  }
}

// TapGemm with a run-time row count 1 <= mr <= M.
template <int NV, typename V, int XS, int M>
inline void TapGemmAnyRows(int mr, int T, const float* const* xp, const float* const* wp, int K,
                           int64_t xs, float* out, int64_t os, int ncols) {
  if (mr == M) {
    TapGemm<M, NV, V, XS>(T, xp, wp, K, xs, out, os, ncols);
  } else if constexpr (M > 1) {
    TapGemmAnyRows<NV, V, XS, M - 1>(mr, T, xp, wp, K, xs, out, os, ncols);
  }
}

template <int NV, typename V, int MaxRows, int XS>
void TapGemmRowOfStride(int L, int T, const float* const* xbase, const float** xp, const float* const* wp,
                        int K, int64_t xs, float* out, int64_t os, int ncols) {
  const Tiling tiling(L, MaxRows);
  int m0 = 0;
  for (int i = 0; i < tiling.tiles; ++i) {
    const int mr = tiling.Rows(i);
    for (int t = 0; t < T; ++t) xp[t] = xbase[t] + m0 * xs;
    TapGemmAnyRows<NV, V, XS, MaxRows>(mr, T, xp, wp, K, xs, out + m0 * os, os, ncols);
    m0 += mr;
  }
}

// The row strides compiled as constants: xs is Ci (forward, stride 1), 2 * Ci (stride 2) or Co
// (input gradient), and these are the channel counts of nnU-Net's and the project's networks
// (powers of two to 256, and 320, the cap of nnU-Net's 3d_fullres). Any other stride runs the
// same kernel with the stride in a register.
template <int NV, typename V, int MaxRows>
void TapGemmRowOf(int L, int T, const float* const* xbase, const float** xp, const float* const* wp,
                  int K, int64_t xs, float* out, int64_t os, int ncols) {
#define MTC_ROW(S) TapGemmRowOfStride<NV, V, MaxRows, S>(L, T, xbase, xp, wp, K, xs, out, os, ncols)
  switch (xs) {
    case 8: return MTC_ROW(8);
    case 16: return MTC_ROW(16);
    case 32: return MTC_ROW(32);
    case 64: return MTC_ROW(64);
    case 128: return MTC_ROW(128);
    case 256: return MTC_ROW(256);
    case 320: return MTC_ROW(320);
    default: return MTC_ROW(0);
  }
#undef MTC_ROW
}

// One row of L outputs for a column block of the given packed width.
void TapGemmRow(int width, int L, int T, const float* const* xbase, const float** xp,
                const float* const* wp, int K, int64_t xs, float* out, int64_t os, int ncols) {
#if defined(__AVX512F__)
  {
    if (width == 32) return TapGemmRowOf<2, v16, kMaxRowsWide>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
    if (width == 16) return TapGemmRowOf<1, v16, kMaxRowsNarrow>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
    return TapGemmRowOf<1, v8, kMaxRowsNarrow>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
  }
#elif (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX__)
  // SSE only: arrays of 32-byte vectors would live in memory; block with 16-byte ones.
  if (width == 16) return TapGemmRowOf<4, v4, kMaxRowsWide>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
  return TapGemmRowOf<2, v4, kMaxRowsNarrow>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
#else
  if (width == 16) return TapGemmRowOf<2, v8, kMaxRowsWide>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
  return TapGemmRowOf<1, v8, kMaxRowsNarrow>(L, T, xbase, xp, wp, K, xs, out, os, ncols);
#endif
}

struct ColBlock {
  int start;   // first column
  int width;   // 8, 16 or 32 (packed width)
  int valid;   // real columns in this block (<= width)
  int64_t packed_offset;  // floats into the packed weight buffer
};

std::vector<ColBlock> MakeColBlocks(int n, int64_t rows_per_block) {
  std::vector<ColBlock> blocks;
  int64_t off = 0;
  for (int c = 0; c < n;) {
    const int left = n - c;
    const int width = BlockWidth(left);
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
    static thread_local std::vector<float> slots[3];
    return slots;
  }
  std::vector<float>& buf_;
};

// Packs `rows` rows of weights into the column blocks (block bl: [rows][bl.width] at
// bl.packed_offset) in scratch memory: copy(bl, r, d) writes row r's bl.valid columns of block bl at
// d, and the padding columns are zeroed. Large buffers are packed on the pool: the deep layers'
// weights (1.7 MB at 128 channels) were packed on one thread into a freshly zeroed vector while the
// other kernel thread waited, 16 % of such a forward or input-gradient call on 2 threads. Every
// element is written once, by one thread, whatever the split.
template <typename Copy>
const float* PackWeights(const std::vector<ColBlock>& blocks, int64_t rows, Scratch& store, ThreadPool& pool,
                         Copy&& copy) {
  const int64_t size = PackedSize(blocks, rows);
  float* wpk = store.Get(static_cast<size_t>(size));
  const int threads = size >= (int64_t{1} << 16) ? pool.size() : 1;
  pool.ParallelFor(rows, std::max<int64_t>(1, rows / (4 * threads)), threads, [&](int64_t r0, int64_t r1, int) {
    for (const auto& bl : blocks)
      for (int64_t r = r0; r < r1; ++r) {
        float* d = wpk + bl.packed_offset + r * bl.width;
        copy(bl, r, d);
        std::fill(d + bl.valid, d + bl.width, 0.f);
      }
  });
  return wpk;
}

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
  const int64_t wrows = static_cast<int64_t>(taps) * p.Ci;
  const auto blocks = MakeColBlocks(p.Co, wrows);
  Scratch wpk_store(1);
  const float* wpk = PackWeights(blocks, wrows, wpk_store, pool, [&](const ColBlock& bl, int64_t r, float* d) {
    std::memcpy(d, w + r * p.Co + bl.start, sizeof(float) * bl.valid);
  });

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
          // The kw taps of one (kd, kh) read consecutive Ci-runs of x (W is padded) and use
          // consecutive packed weights, so they form one reduction of length kw * Ci (the same
          // summation order as tap by tap).
          xbase[T] = row;
          tap_index[T] = (kd * p.kh + kh) * p.kw;
          ++T;
        }
      }
      float* out = y + r * p.Wo * p.Co;
      for (const auto& bl : blocks) {
        const float* wb = wpk + bl.packed_offset;
        for (int t = 0; t < T; ++t)
          wcur[t] = wb + static_cast<int64_t>(tap_index[t]) * p.Ci * bl.width;
        TapGemmRow(bl.width, p.Wo, T, xbase, xcur, wcur, p.kw * p.Ci, xs, out + bl.start, p.Co, bl.valid);
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

  // Pack transposed weights: block over ci -> [tap][co][width]; row r = t * Co + co.
  const int64_t wrows = static_cast<int64_t>(taps) * p.Co;
  const auto blocks = MakeColBlocks(p.Ci, wrows);
  Scratch wpk_store(1);
  const float* wpk = PackWeights(blocks, wrows, wpk_store, pool, [&](const ColBlock& bl, int64_t r, float* d) {
    const int64_t t = r / p.Co, co = r % p.Co;
    const float* src = w + (t * p.Ci + bl.start) * p.Co + co;
    for (int c = 0; c < bl.valid; ++c) d[c] = src[static_cast<int64_t>(c) * p.Co];
  });

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
        if (T == 0) {
          // No tap reaches this phase (e.g. stride > kernel): the gradient is zero.
          for (int j = 0; j < nj; ++j) std::memset(out + j * os, 0, sizeof(float) * p.Ci);
          continue;
        }
        for (const auto& bl : blocks) {
          const float* wb = wpk + bl.packed_offset;
          for (int t = 0; t < T; ++t)
            wcur[t] = wb + static_cast<int64_t>(tap_index[t]) * p.Co * bl.width;
          TapGemmRow(bl.width, nj, T, xbase, xcur, wcur, p.Co, p.Co, out + bl.start, os, bl.valid);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Backprop filter: dw[kd,kh,kw,ci,co] = sum_{b,od,oh,ow}
//   x[b, od*sd-pf+kd, oh*sh-pt+kh, ow*sw-pl+kw, ci] * dy[b,od,oh,ow,co]
// Micro-tile: MR input channels x NV vectors of output channels, reduced over a
// chunk of output rows of one (b, od) plane, then added to a per-group partial.

template <int MR, int NV, typename V>
inline void FilterTile(int nrows, const float* const* xrows, const float* const* dyrows, int64_t xoff, int64_t dyoff,
                       int L, int64_t xs, int64_t dys, float* acc_out, int64_t acc_stride) {
  constexpr int W = VecTraits<V>::kLanes;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[m][v] = V{};
  for (int i = 0; i < nrows; ++i) {
    const float* xr = xrows[i] + xoff;
    const float* dr = dyrows[i] + dyoff;
    for (int l = 0; l < L; ++l) {
      V dv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) dv[v] = LoadV<V>(dr + v * W);
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) {
        const float xv = xr[m];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[m][v] += dv[v] * xv;
      }
      xr += xs;
      dr += dys;
    }
  }
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* o = acc_out + m * acc_stride + v * W;
      StoreV(o, LoadV<V>(o) + acc[m][v]);
    }
}

template <int NV, typename V, int M>
inline void FilterTileAnyRows(int mr, int nrows, const float* const* xrows, const float* const* dyrows, int64_t xoff, int64_t dyoff,
                              int L, int64_t xs, int64_t dys, float* acc_out, int64_t acc_stride) {
  if (mr == M) {
    FilterTile<M, NV, V>(nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
  } else if constexpr (M > 1) {
    FilterTileAnyRows<NV, V, M - 1>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
  }
}

// One (ci tile, co block) of the filter gradient; width is the packed co block width.
void FilterTileBlock(int width, int mr, int nrows, const float* const* xrows, const float* const* dyrows, int64_t xoff, int64_t dyoff,
                     int L, int64_t xs, int64_t dys, float* acc_out, int64_t acc_stride) {
#if defined(__AVX512F__)
  {
    if (width == 32) return FilterTileAnyRows<2, v16, kMaxRowsWide>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
    if (width == 16) return FilterTileAnyRows<1, v16, kMaxRowsNarrow>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
    return FilterTileAnyRows<1, v8, kMaxRowsNarrow>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
  }
#elif (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX__)
  if (width == 16) return FilterTileAnyRows<4, v4, kMaxRowsWide>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
  return FilterTileAnyRows<2, v4, kMaxRowsNarrow>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
#else
  if (width == 16) return FilterTileAnyRows<2, v8, kMaxRowsWide>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
  return FilterTileAnyRows<1, v8, kMaxRowsNarrow>(mr, nrows, xrows, dyrows, xoff, dyoff, L, xs, dys, acc_out, acc_stride);
#endif
}

// Filter-gradient tile for kw = 3 at stride 1 along W: MRC input channels, all three kw taps.
// The tile above gives each (kw, ci) row its own broadcast of x, so each broadcast feeds NV FMAs
// only (one, for 16 output channels on zmm): one load per FMA, which caps the FMA rate well below
// the peak where broadcasts are costly (measured on an Intel Xeon with AVX-512: about 70 % of the
// peak at one broadcast per FMA, 85-95 % at a half to a quarter). At stride 1 the padded x element
// at position q serves kw = 0, 1, 2 with dy at q, q - 1, q - 2, so here one broadcast feeds
// 3 * NV FMAs. Each accumulator (kw, ci, co) still receives its products in the same order (rows
// in order, output positions l = q - kw ascending within a row), so the result is bit-identical
// to FilterTile's.
template <int MASK, int MRC, int NV, typename V>
inline void Kw3Step(V (&acc)[3][MRC][NV], const float* xq, const float* dr, int q, int64_t dys) {
  constexpr int W = VecTraits<V>::kLanes;
  V dv[3][NV];
#pragma GCC unroll 3
  for (int kw = 0; kw < 3; ++kw)
    if ((MASK >> kw) & 1)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) dv[kw][v] = LoadV<V>(dr + (q - kw) * dys + v * W);
#pragma GCC unroll 16
  for (int c = 0; c < MRC; ++c) {
    const float xv = xq[c];
#pragma GCC unroll 3
    for (int kw = 0; kw < 3; ++kw)
      if ((MASK >> kw) & 1)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[kw][c][v] += dv[kw][v] * xv;
  }
}

template <int MRC, int NV, typename V>
inline void Kw3StepAnyMask(int mask, V (&acc)[3][MRC][NV], const float* xq, const float* dr, int q, int64_t dys) {
  switch (mask) {
    case 1: return Kw3Step<1, MRC, NV, V>(acc, xq, dr, q, dys);
    case 2: return Kw3Step<2, MRC, NV, V>(acc, xq, dr, q, dys);
    case 3: return Kw3Step<3, MRC, NV, V>(acc, xq, dr, q, dys);
    case 4: return Kw3Step<4, MRC, NV, V>(acc, xq, dr, q, dys);
    case 6: return Kw3Step<6, MRC, NV, V>(acc, xq, dr, q, dys);
    case 7: return Kw3Step<7, MRC, NV, V>(acc, xq, dr, q, dys);
    default: return;  // 5 cannot occur: kw 0 and 2 active means kw 1 is too
  }
}

// xrows[i] + xoff points at padded position 0, channel ci0 of a row of x; dyrows[i] + dyoff at position 0, the
// first column of the block. ci is the channel count (x's position stride), L the output width.
// Adds the sums into acc_out rows kw * ci + c.
template <int MRC, int NV, typename V>
inline void FilterTileKw3(int nrows, const float* const* xrows, const float* const* dyrows, int64_t xoff, int64_t dyoff,
                          int L, int64_t ci, int64_t dys, float* acc_out, int64_t acc_stride) {
  constexpr int W = VecTraits<V>::kLanes;
  V acc[3][MRC][NV];
#pragma GCC unroll 3
  for (int kw = 0; kw < 3; ++kw)
#pragma GCC unroll 16
    for (int c = 0; c < MRC; ++c)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[kw][c][v] = V{};
  // Active taps at padded position q: kw with 0 <= q - kw < L.
  const auto mask = [L](int q) {
    int m = 0;
    for (int kw = 0; kw < 3; ++kw)
      if (q - kw >= 0 && q - kw < L) m |= 1 << kw;
    return m;
  };
  for (int i = 0; i < nrows; ++i) {
    const float* xr = xrows[i] + xoff;
    const float* dr = dyrows[i] + dyoff;
    int q = 0;
    for (; q < 2 && q < L + 2; ++q) Kw3StepAnyMask<MRC, NV, V>(mask(q), acc, xr + q * ci, dr, q, dys);
    for (; q < L; ++q) Kw3Step<7, MRC, NV, V>(acc, xr + q * ci, dr, q, dys);
    for (; q < L + 2; ++q) Kw3StepAnyMask<MRC, NV, V>(mask(q), acc, xr + q * ci, dr, q, dys);
  }
#pragma GCC unroll 3
  for (int kw = 0; kw < 3; ++kw)
#pragma GCC unroll 16
    for (int c = 0; c < MRC; ++c)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* o = acc_out + (kw * ci + c) * acc_stride + v * W;
        StoreV(o, LoadV<V>(o) + acc[kw][c][v]);
      }
}

template <int NV, typename V, int M>
inline void FilterTileKw3AnyRows(int mrc, int nrows, const float* const* xrows, const float* const* dyrows, int64_t xoff, int64_t dyoff,
                                 int L, int64_t ci, int64_t dys, float* acc_out, int64_t acc_stride) {
  if (mrc == M) {
    FilterTileKw3<M, NV, V>(nrows, xrows, dyrows, xoff, dyoff, L, ci, dys, acc_out, acc_stride);
  } else if constexpr (M > 1) {
    FilterTileKw3AnyRows<NV, V, M - 1>(mrc, nrows, xrows, dyrows, xoff, dyoff, L, ci, dys, acc_out, acc_stride);
  }
}

#if defined(__AVX512F__)
// Channels per kw-shared tile: 3 * MRC * NV accumulators, 3 * NV dy vectors and a broadcast fit
// the 32 zmm registers.
constexpr int kKw3RowsWide = 4;    // 32-wide blocks: 24 accumulators, 6 dy vectors
constexpr int kKw3RowsNarrow = 8;  // 16- and 8-wide blocks: 24 accumulators, 3 dy vectors
constexpr bool kHasKw3Tile = true;
#else
// With 16 registers the shared tile has too few accumulators to cover the FMA latency; these
// builds keep FilterTile (the same bits either way).
constexpr int kKw3RowsWide = 1;
constexpr int kKw3RowsNarrow = 1;
constexpr bool kHasKw3Tile = false;
#endif

constexpr int kKw3MinWidth = 16;

inline int Kw3MaxRows(int width) { return width == 32 ? kKw3RowsWide : kKw3RowsNarrow; }

void FilterTileKw3Block(int width, int mrc, int nrows, const float* const* xrows, const float* const* dyrows, int64_t xoff, int64_t dyoff,
                        int L, int64_t ci, int64_t dys, float* acc_out, int64_t acc_stride) {
#if defined(__AVX512F__)
  if (width == 32) return FilterTileKw3AnyRows<2, v16, kKw3RowsWide>(mrc, nrows, xrows, dyrows, xoff, dyoff, L, ci, dys, acc_out, acc_stride);
  if (width == 16) return FilterTileKw3AnyRows<1, v16, kKw3RowsNarrow>(mrc, nrows, xrows, dyrows, xoff, dyoff, L, ci, dys, acc_out, acc_stride);
  return FilterTileKw3AnyRows<1, v8, kKw3RowsNarrow>(mrc, nrows, xrows, dyrows, xoff, dyoff, L, ci, dys, acc_out, acc_stride);
#else
  (void)width, (void)mrc, (void)nrows, (void)xrows, (void)dyrows, (void)xoff, (void)dyoff, (void)L, (void)ci, (void)dys, (void)acc_out, (void)acc_stride;
#endif
}

// Work decomposition of the filter gradient. Both numbers depend on the problem
// only (never on the thread count), so the summation order, and with it every
// bit of the result, is the same whatever the number of threads.
constexpr int64_t kFilterWantItems = 64;   // (plane, row chunk) items to balance over
constexpr int64_t kFilterMaxGroups = 16;   // partial sums, reduced in group order
constexpr int64_t kFilterPartialBytes = int64_t{48} << 20;  // memory cap of the partials
// Inputs whose x and dy together are at most this size take the output-partitioned path.
constexpr int64_t kFilterOutputSplitBytes = int64_t{1} << 20;

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
  const int64_t dw_size = static_cast<int64_t>(taps) * p.Ci * CoP;

  // Column blocks over the padded output channels.
  std::vector<std::pair<int, int>> co_blocks;  // (start, width)
  for (int co0 = 0; co0 < CoP;) {
    const int width = std::min(BlockWidth(CoP - co0), CoP - co0);
    co_blocks.push_back({co0, width});
    co0 += width;
  }

  // Row pointers of output plane `plane` rows [oh0, oh1) for filter rows (kd, kh); returns the count.
  auto plane_rows = [&](int64_t plane, int oh0, int oh1, int kd, int kh, const float** xr,
                        const float** dr) {
    const int od = static_cast<int>(plane % p.Do);
    const int b = static_cast<int>(plane / p.Do);
    const int id = od * p.sd - p.pf + kd;
    if (id < 0 || id >= p.Di) return 0;
    int nrows = 0;
    for (int oh = oh0; oh < oh1; ++oh) {
      const int ih = oh * p.sh - p.pt + kh;
      if (ih < 0 || ih >= p.Hi) continue;
      xr[nrows] = xp + ((static_cast<int64_t>(b) * p.Di + id) * p.Hi + ih) * WiP * p.Ci;
      dr[nrows] = dyc + ((static_cast<int64_t>(b) * p.Do + od) * p.Ho + oh) * p.Wo * CoP;
      ++nrows;
    }
    return nrows;
  };
  // Adds the tile (filter rows kd, kh; rows m0 .. m0 + mr of the (kw, ci) dimension; co block)
  // over the given rows into acc [tap][ci][CoP]. m = kw * Ci + ci is contiguous both in a row of x
  // (W is padded) and in dw, so the kw taps and the input channels tile as one dimension of
  // length kw * Ci (each element still sums over the same positions in the same order).
  // At stride 1 with kw = 3, rows of at least kKw3MinWidth outputs and column blocks of 8 or 16,
  // the tiles run over input channels and cover all three kw taps at once (FilterTileKw3; m0 and mr
  // then count channels); elsewhere over the (kw, ci) rows. Shorter rows spend too much of each row
  // in the tile's first and last two positions, and 32-wide blocks already share each broadcast
  // between two vectors. Median time ratios against FilterTile, one thread, avx512 on an Intel Xeon
  // with AVX-512: [2,32,32,32,16] -> 16 0.82, [2,16,16,16,16] -> 16 0.72-0.82, 32 -> 24 channels
  // 0.80, 32 -> 16 0.84-0.93; split into kw-shared 16-wide blocks, 32 channels and more took
  // 0.99-1.05, and rows of 8 and 4 outputs 1.05 and 1.16.
  const bool kw3_shape = kHasKw3Tile && p.kw == 3 && p.sw == 1 && p.Wo >= kKw3MinWidth;
  const auto kw3 = [kw3_shape](int width) { return kw3_shape && width <= 16; };
  const auto tile_rows = [&](int width) { return kw3(width) ? p.Ci : p.kw * p.Ci; };
  const auto max_rows = [&](int width) { return kw3(width) ? Kw3MaxRows(width) : MaxRows(width); };
  // The tile reads row i of x at xr[i] + m0 and of dy at dr[i] + co0.
  auto tile = [&](int nrows, const float* const* xr, const float* const* dr, int kdkh, int m0, int mr,
                  int co0, int width, float* acc) {
    float* out = acc + (static_cast<int64_t>(kdkh) * p.kw * p.Ci + m0) * CoP + co0;
    if (kw3(width))
      FilterTileKw3Block(width, mr, nrows, xr, dr, m0, co0, p.Wo, p.Ci, CoP, out, CoP);
    else
      FilterTileBlock(width, mr, nrows, xr, dr, m0, co0, p.Wo, static_cast<int64_t>(p.sw) * p.Ci, CoP, out, CoP);
  };

  // Small inputs (deep layers: few positions, many weights): every (tap, co block, ci tile) of
  // dw is one work unit summed over all positions in order, with x and dy staying in cache.
  // No partial sums; each element's order is fixed, so the thread count cannot change it.
  const int64_t stream_bytes = positions * (p.Ci + CoP) * 4;
  if (stream_bytes <= kFilterOutputSplitBytes) {
    struct Unit { int kdkh, co0, width, m0, mr; };
    std::vector<Unit> units;
    const int M = p.kw * p.Ci;
    for (int kdkh = 0; kdkh < p.kd * p.kh; ++kdkh)
      for (const auto& cb : co_blocks) {
        const Tiling tiling(tile_rows(cb.second), max_rows(cb.second));
        for (int ti = 0, m0 = 0; ti < tiling.tiles; m0 += tiling.Rows(ti), ++ti)
          units.push_back({kdkh, cb.first, cb.second, m0, tiling.Rows(ti)});
      }
    Scratch acc_store(2);
    float* acc = CoP != p.Co ? acc_store.Get(static_cast<size_t>(dw_size)) : dw;
    // The rows of every (filter row kd, kh; plane) once, shared by all units (with thousands of
    // units of a few rows each, recomputing them per unit took a fifth of the call).
    const int kdkh_count = p.kd * p.kh;
    std::vector<const float*> row_x(static_cast<size_t>(kdkh_count) * planes * p.Ho);
    std::vector<const float*> row_dy(row_x.size());
    std::vector<int> row_n(static_cast<size_t>(kdkh_count) * planes);
    for (int kdkh = 0; kdkh < kdkh_count; ++kdkh)
      for (int64_t plane = 0; plane < planes; ++plane) {
        const size_t at = static_cast<size_t>(kdkh * planes + plane);
        row_n[at] = plane_rows(plane, 0, p.Ho, kdkh / p.kh, kdkh % p.kh, &row_x[at * p.Ho], &row_dy[at * p.Ho]);
      }
    pool.ParallelFor(static_cast<int64_t>(units.size()), 1, nthreads, [&](int64_t u0, int64_t u1, int) {
      for (int64_t ui = u0; ui < u1; ++ui) {
        const Unit& u = units[ui];
        const bool shared = kw3(u.width);
        for (int kw = 0; kw < (shared ? p.kw : 1); ++kw)
          for (int m = 0; m < u.mr; ++m)
            std::memset(acc + (static_cast<int64_t>(u.kdkh) * M + (shared ? kw * p.Ci : 0) + u.m0 + m) * CoP + u.co0, 0,
                        sizeof(float) * u.width);
        for (int64_t plane = 0; plane < planes; ++plane) {
          const size_t at = static_cast<size_t>(u.kdkh * planes + plane);
          if (row_n[at] > 0)
            tile(row_n[at], &row_x[at * p.Ho], &row_dy[at * p.Ho], u.kdkh, u.m0, u.mr, u.co0, u.width, acc);
        }
      }
    });
    if (acc != dw) {
      const int64_t out_rows = static_cast<int64_t>(taps) * p.Ci;
      for (int64_t r = 0; r < out_rows; ++r) std::memcpy(dw + r * p.Co, acc + r * CoP, sizeof(float) * p.Co);
    }
    return;
  }

  // Large inputs: the positions are split. Planes are cut into row chunks when there are too few
  // to balance.
  const int chunks_per_plane =
      planes >= kFilterWantItems
          ? 1
          : static_cast<int>(std::min<int64_t>(p.Ho, (kFilterWantItems + planes - 1) / planes));
  const int rows_per_chunk = (p.Ho + chunks_per_plane - 1) / chunks_per_plane;
  const int64_t items = planes * chunks_per_plane;

  // Determinism: the items are cut into a fixed number of contiguous groups, each summed in order
  // into its own partial and the partials added in group order, so the result does not depend on
  // which thread ran what, nor on the thread count (up to `groups` threads share the work).
  const int64_t by_memory = std::max<int64_t>(1, kFilterPartialBytes / (dw_size * 4));
  const int64_t groups = std::min({kFilterMaxGroups, items, by_memory});
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
      const int oh0 = chunk * rows_per_chunk;
      const int oh1 = std::min(p.Ho, oh0 + rows_per_chunk);
      if (oh0 >= oh1) continue;
      for (int kd = 0; kd < p.kd; ++kd) {
        for (int kh = 0; kh < p.kh; ++kh) {
          const int nrows = plane_rows(plane, oh0, oh1, kd, kh, xr, dr);
          if (nrows == 0) continue;
          for (const auto& cb : co_blocks) {
            const Tiling tiling(tile_rows(cb.second), max_rows(cb.second));
            for (int ti = 0, m0 = 0; ti < tiling.tiles; ++ti) {
              const int mr = tiling.Rows(ti);
              tile(nrows, xr, dr, kd * p.kh + kh, m0, mr, cb.first, cb.second, acc);
              m0 += mr;
            }
          }
        }
      }
    }
   }
  });

  // Reduce the group partials, in group order, into dw [tap][ci][co].
  const int64_t out_rows = static_cast<int64_t>(taps) * p.Ci;
  pool.ParallelFor(out_rows, std::max<int64_t>(1, out_rows / 64), groups > 1 && dw_size > 65536 ? nthreads : 1,
                   [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* d = dw + r * p.Co;
      for (int c = 0; c < p.Co; ++c) {
        float s = 0.f;
        for (int64_t g = 0; g < groups; ++g) s += partial[static_cast<size_t>(g) * dw_size + r * CoP + c];
        d[c] = s;
      }
    }
  });
}

// ---------------------------------------------------------------------------
// FMA throughput probe for the peak estimate: 12 independent accumulator chains
// (enough to cover the FMA latency times the FMA ports of current x86 cores) of
// the build's widest register (zmm, ymm; xmm with separate multiply and add in
// the generic build). The empty asm statements keep each chain in a register
// and stop the compiler from folding the loop away.
#if defined(__AVX512F__)
using ProbeVec = v16;
#define MTC_PROBE_REG "+v"
constexpr int kProbeLanes = 16;
#elif defined(__AVX2__)
using ProbeVec = v8;
#define MTC_PROBE_REG "+x"
constexpr int kProbeLanes = 8;
#else
using ProbeVec = v4;
#define MTC_PROBE_REG "+x"
constexpr int kProbeLanes = 4;
#endif

double FmaLoop(int64_t iters) {
  constexpr int kChains = 12;
  const ProbeVec a = ProbeVec{} + 0.9999999f;
  const ProbeVec b = ProbeVec{} + 1e-7f;
  // Twelve named accumulators: an array would live in memory.
  ProbeVec c0 = a, c1 = a + b, c2 = a - b, c3 = a * a, c4 = c1 * a, c5 = c2 * a;
  ProbeVec c6 = c3 * a, c7 = c4 * a, c8 = c5 * a, c9 = c6 * a, c10 = c7 * a, c11 = c8 * a;
#define MTC_FMA(c) c = c * a + b; __asm__ volatile("" : MTC_PROBE_REG(c));
  for (int64_t i = 0; i < iters; ++i) {
    MTC_FMA(c0) MTC_FMA(c1) MTC_FMA(c2) MTC_FMA(c3) MTC_FMA(c4) MTC_FMA(c5)
    MTC_FMA(c6) MTC_FMA(c7) MTC_FMA(c8) MTC_FMA(c9) MTC_FMA(c10) MTC_FMA(c11)
  }
#undef MTC_FMA
  const ProbeVec s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
  volatile float sink = s[0];
  (void)sink;
  return 2.0 * kProbeLanes * kChains * static_cast<double>(iters);
}

// The chains of FmaLoop with one broadcast memory operand per FMA (c += a * x[j]): the loads
// walk a small buffer (always in L1), so only the cost of broadcasting operands shows. On an Intel
// Xeon with AVX-512 this ran at about 70 % of FmaLoop, where AMD's cores lose nothing.
double BroadcastFmaLoop(int64_t iters) {
  constexpr int kChains = 12;
  alignas(64) float buf[kChains * 16 + 16];
  for (int i = 0; i < kChains * 16 + 16; ++i) buf[i] = 1e-7f * static_cast<float>(1 + i % 7);
  // Lanes differ, as a weight vector's do (a splat would let the compiler multiply in scalar).
  ProbeVec a{};
  for (int l = 0; l < kProbeLanes; ++l) a[l] = 0.9999999f - 1e-8f * static_cast<float>(l);
  ProbeVec c0 = a, c1 = a + a, c2 = a * a, c3 = c1 * a, c4 = c2 * a, c5 = c3 * a;
  ProbeVec c6 = c4 * a, c7 = c5 * a, c8 = c6 * a, c9 = c7 * a, c10 = c8 * a, c11 = c9 * a;
  for (int64_t i = 0; i < iters; ++i) {
    // A different element of each row every iteration, so the loads cannot leave the loop.
    const float* x = buf + (i & 15);
    c0 += a * x[0 * 16]; c1 += a * x[1 * 16]; c2 += a * x[2 * 16]; c3 += a * x[3 * 16];
    c4 += a * x[4 * 16]; c5 += a * x[5 * 16]; c6 += a * x[6 * 16]; c7 += a * x[7 * 16];
    c8 += a * x[8 * 16]; c9 += a * x[9 * 16]; c10 += a * x[10 * 16]; c11 += a * x[11 * 16];
  }
  const ProbeVec s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
  volatile float sink = s[0];
  (void)sink;
  return 2.0 * kProbeLanes * kChains * static_cast<double>(iters);
}

}  // namespace

const KernelSet kKernels = {MTC_STR(MTC_ISA_NS), Forward, BackpropInput, BackpropFilter, FmaLoop,
                            BroadcastFmaLoop, kProbeLanes};

}  // namespace MTC_ISA_NS
}  // namespace mtc
