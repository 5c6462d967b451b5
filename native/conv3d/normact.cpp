// Fused bias + InstanceNorm + LeakyReLU (forward and backward) and the
// MultiTalent loss passes, over channels-last [B, N, C] float32 data.
//
// Compiled once per instruction set (MTC_ISA_NS = avx2 | generic), like
// kernels.cpp; the channel loops are plain loops the compiler vectorises.
// Work is split into (sample, voxel chunk) items; each item writes its own
// partial sums, which are reduced in item order afterwards, so results do not
// depend on the thread count or on scheduling.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "normact.h"

#ifndef MTC_ISA_NS
#error "MTC_ISA_NS must be defined (avx2 or generic)"
#endif

namespace mtc {
namespace MTC_ISA_NS {
namespace {

#include "simd.h"
// lrelu'(z) * d, selecting on the sign of the output y (same sign as z).
template <typename V>
inline V LeakyGrad(V y, V d, float slope) {
  return y > SplatV<V>(0.f) ? d : d * slope;
}
template <typename V>
inline V Leaky(V z, float slope) {
  return z > SplatV<V>(0.f) ? z : z * slope;
}

// Channel counts up to this use the vectorised paths (C % 8 == 0).
constexpr int kMaxVecC = 512;

// Voxel chunks per sample: about 32K values per item, at most N.
int64_t ChunksPerSample(const NormActShape& s) {
  const int64_t per = std::max<int64_t>(1, 32768 / std::max(1, s.C));
  return std::max<int64_t>(1, std::min<int64_t>(s.N, (s.N + per - 1) / per));
}

struct Chunking {
  int64_t chunks;  // per sample
  int64_t items;   // B * chunks
  int64_t Begin(int64_t k, int64_t N) const { return N * k / chunks; }
};

Chunking MakeChunking(const NormActShape& s) {
  const int64_t chunks = ChunksPerSample(s);
  return Chunking{chunks, chunks * s.B};
}

template <typename Fn>
void ForItems(const Chunking& ch, ThreadPool& pool, Fn&& fn) {
  pool.ParallelFor(ch.items, 1, pool.size(), [&](int64_t i0, int64_t i1, int) {
    for (int64_t it = i0; it < i1; ++it) fn(it / ch.chunks, it % ch.chunks);
  });
}

// The vector type for C channels: v16 when C % 16 == 0, else v8. The same in every build
// (v16 is two ymm operations under AVX2), so every lane computes the same way everywhere.
enum class VecKind { kScalar, kV8, kV16 };
inline VecKind VecFor(int C) {
  if (C > kMaxVecC || C % 8 != 0) return VecKind::kScalar;
  return C % 16 == 0 ? VecKind::kV16 : VecKind::kV8;
}

// ---------------------------------------------------------------------------
// Two per-channel sums over voxels [i0, i1) in float vectors, flushed into the doubles s1, s2 every
// 256 voxels: terms(i, v) gives voxel i's two terms for channel vector v.
template <typename V, typename Terms>
void SumPairsVec(int C, int64_t i0, int64_t i1, double* s1, double* s2, Terms terms) {
  constexpr int L = VecTraits<V>::kLanes;
  const int nv = C / L;
  V a1[kMaxVecC / L], a2[kMaxVecC / L];
  for (int v = 0; v < nv; ++v) {
    a1[v] = V{};
    a2[v] = V{};
  }
  for (int64_t j0 = i0; j0 < i1; j0 += 256) {
    const int64_t j1 = std::min(i1, j0 + 256);
    for (int64_t i = j0; i < j1; ++i)
      for (int v = 0; v < nv; ++v) terms(i, v, a1[v], a2[v]);
    for (int v = 0; v < nv; ++v) {
      for (int l = 0; l < L; ++l) {
        s1[L * v + l] += a1[v][l];
        s2[L * v + l] += a2[v][l];
      }
      a1[v] = V{};
      a2[v] = V{};
    }
  }
}

// Forward statistics: shifted sums of x and x^2 (shift = the sample's first voxel).
template <typename V>
void ForwardSumsVec(const float* xb, int C, int64_t i0, int64_t i1, double* sum, double* sq) {
  constexpr int L = VecTraits<V>::kLanes;
  V sh[kMaxVecC / L];
  for (int v = 0; v < C / L; ++v) sh[v] = LoadV<V>(xb + L * v);
  SumPairsVec<V>(C, i0, i1, sum, sq, [&](int64_t i, int v, V& s1, V& s2) {
    const V d = LoadV<V>(xb + i * C + L * v) - sh[v];
    s1 += d;
    s2 += d * d;
  });
}

template <typename V>
void ForwardApplyVec(const float* x, float* y, const float* a, const float* o, int C, int64_t i0,
                     int64_t i1, float slope) {
  constexpr int L = VecTraits<V>::kLanes;
  const int nv = C / L;
  V va[kMaxVecC / L], vo[kMaxVecC / L];
  for (int v = 0; v < nv; ++v) {
    va[v] = LoadV<V>(a + L * v);
    vo[v] = LoadV<V>(o + L * v);
  }
  for (int64_t i = i0; i < i1; ++i) {
    const float* xi = x + i * C;
    float* yi = y + i * C;
    for (int v = 0; v < nv; ++v) StoreV(yi + L * v, Leaky(LoadV<V>(xi + L * v) * va[v] + vo[v], slope));
  }
}

// Backward pass 1: per item, sums of dz and dz * xhat.
template <typename V>
void BackwardSumsVec(const float* x, const float* y, const float* dy, const float* mu, const float* r,
                     int C, int64_t i0, int64_t i1, float slope, double* sd, double* sdx) {
  constexpr int L = VecTraits<V>::kLanes;
  V vm[kMaxVecC / L], vr[kMaxVecC / L];
  for (int v = 0; v < C / L; ++v) {
    vm[v] = LoadV<V>(mu + L * v);
    vr[v] = LoadV<V>(r + L * v);
  }
  SumPairsVec<V>(C, i0, i1, sd, sdx, [&](int64_t i, int v, V& s1, V& s2) {
    const int64_t o = i * C + L * v;
    const V dz = LeakyGrad(LoadV<V>(y + o), LoadV<V>(dy + o), slope);
    const V h = (LoadV<V>(x + o) - vm[v]) * vr[v];
    s1 += dz;
    s2 += dz * h;
  });
}

// Backward pass 2: dx = r * (dz * s - k1 - xhat * k2), and the per-item sums of dx.
template <typename V>
void BackwardApplyVec(const float* x, const float* y, const float* dy, const float* mu, const float* r,
                      const float* scale, const float* a1, const float* a2, int C, int64_t i0,
                      int64_t i1, float slope, float* dx, double* db) {
  constexpr int L = VecTraits<V>::kLanes;
  const int nv = C / L;
  V ab[kMaxVecC / L], vm[kMaxVecC / L], vr[kMaxVecC / L], vs[kMaxVecC / L], v1[kMaxVecC / L],
      v2[kMaxVecC / L];
  for (int v = 0; v < nv; ++v) {
    ab[v] = V{};
    vm[v] = LoadV<V>(mu + L * v);
    vr[v] = LoadV<V>(r + L * v);
    vs[v] = LoadV<V>(scale + L * v);
    v1[v] = LoadV<V>(a1 + L * v);
    v2[v] = LoadV<V>(a2 + L * v);
  }
  for (int64_t j0 = i0; j0 < i1; j0 += 256) {
    const int64_t j1 = std::min(i1, j0 + 256);
    for (int64_t i = j0; i < j1; ++i) {
      const int64_t o = i * C;
      for (int v = 0; v < nv; ++v) {
        const V dz = LeakyGrad(LoadV<V>(y + o + L * v), LoadV<V>(dy + o + L * v), slope);
        const V h = (LoadV<V>(x + o + L * v) - vm[v]) * vr[v];
        const V val = vr[v] * (dz * vs[v] - v1[v] - h * v2[v]);
        StoreV(dx + o + L * v, val);
        ab[v] += val;
      }
    }
    for (int v = 0; v < nv; ++v) {
      for (int l = 0; l < L; ++l) db[L * v + l] += ab[v][l];
      ab[v] = V{};
    }
  }
}

void NormActForward(const NormActShape& s, const float* x, const float* scale,
                    const float* offset, float eps, float slope, float* y, float* mean,
                    float* rstd, ThreadPool& pool) {
  const int C = s.C;
  const int64_t N = s.N;
  const Chunking ch = MakeChunking(s);
  // Shifted sums (shift = first voxel of the sample) keep E[x^2] - E[x]^2 accurate.
  std::vector<double> part(static_cast<size_t>(ch.items) * 2 * C);
  const VecKind vec = VecFor(C);
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    const float* xb = x + b * N * C;
    const float* shift = xb;
    double* sum = part.data() + (b * ch.chunks + k) * 2 * C;
    double* sq = sum + C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    if (vec == VecKind::kV16) return ForwardSumsVec<v16>(xb, C, i0, i1, sum, sq);
    if (vec == VecKind::kV8) return ForwardSumsVec<v8>(xb, C, i0, i1, sum, sq);
    std::vector<float> fs(C, 0.f), fq(C, 0.f);
    int64_t count = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const float* xi = xb + i * C;
      for (int c = 0; c < C; ++c) {
        const float d = xi[c] - shift[c];
        fs[c] += d;
        fq[c] += d * d;
      }
      if (++count == 256) {  // flush float partials into doubles
        for (int c = 0; c < C; ++c) {
          sum[c] += fs[c];
          sq[c] += fq[c];
          fs[c] = 0.f;
          fq[c] = 0.f;
        }
        count = 0;
      }
    }
    for (int c = 0; c < C; ++c) {
      sum[c] += fs[c];
      sq[c] += fq[c];
    }
  });
  std::vector<float> A(static_cast<size_t>(s.B) * C), Bc(static_cast<size_t>(s.B) * C);
  for (int b = 0; b < s.B; ++b) {
    for (int c = 0; c < C; ++c) {
      double su = 0, sq = 0;
      for (int64_t k = 0; k < ch.chunks; ++k) {
        const double* p = part.data() + (b * ch.chunks + k) * 2 * C;
        su += p[c];
        sq += p[C + c];
      }
      const double shift = x[static_cast<int64_t>(b) * N * C + c];
      const double m = su / N;
      const double var = std::max(0.0, sq / N - m * m);
      const double r = 1.0 / std::sqrt(var + eps);
      // The bias shifts x and its mean alike, so xhat = (x - mean(x)) * r does not depend on it.
      const double mu = m + shift;
      mean[b * C + c] = static_cast<float>(mu);
      rstd[b * C + c] = static_cast<float>(r);
      // y = (x - mu) * r * scale + offset = x * A + Bc
      A[b * C + c] = static_cast<float>(r * scale[c]);
      Bc[b * C + c] = static_cast<float>(offset[c] - mu * r * scale[c]);
    }
  }
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    const float* a = A.data() + b * C;
    const float* o = Bc.data() + b * C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    const float* xb = x + b * N * C;
    float* yb = y + b * N * C;
    if (vec == VecKind::kV16) return ForwardApplyVec<v16>(xb, yb, a, o, C, i0, i1, slope);
    if (vec == VecKind::kV8) return ForwardApplyVec<v8>(xb, yb, a, o, C, i0, i1, slope);
    for (int64_t i = i0; i < i1; ++i) {
      const float* xi = xb + i * C;
      float* yi = yb + i * C;
      for (int c = 0; c < C; ++c) {
        const float z = xi[c] * a[c] + o[c];
        yi[c] = z > 0.f ? z : slope * z;
      }
    }
  });
}

void NormActBackward(const NormActShape& s, const float* x, const float* y, const float* dy,
                     const float* scale, const float* mean, const float* rstd, float slope,
                     float* dx, float* dbias, float* dscale, float* doffset, ThreadPool& pool) {
  const int C = s.C;
  const int64_t N = s.N;
  const Chunking ch = MakeChunking(s);
  const VecKind vec = VecFor(C);
  // Pass 1: per (b, c) sums of dz and dz * xhat (dz = dy * lrelu'(.)).
  std::vector<double> part(static_cast<size_t>(ch.items) * 2 * C);
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    double* sd = part.data() + (b * ch.chunks + k) * 2 * C;
    double* sdx = sd + C;
    const float* mu = mean + b * C;
    const float* r = rstd + b * C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    const int64_t base = b * N * C;
    if (vec == VecKind::kV16) return BackwardSumsVec<v16>(x + base, y + base, dy + base, mu, r, C, i0, i1, slope, sd, sdx);
    if (vec == VecKind::kV8) return BackwardSumsVec<v8>(x + base, y + base, dy + base, mu, r, C, i0, i1, slope, sd, sdx);
    std::vector<float> fd(C, 0.f), fdx(C, 0.f);
    int64_t count = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = base + i * C;
      for (int c = 0; c < C; ++c) {
        const float dz = y[o + c] > 0.f ? dy[o + c] : slope * dy[o + c];
        const float h = (x[o + c] - mu[c]) * r[c];
        fd[c] += dz;
        fdx[c] += dz * h;
      }
      if (++count == 256) {
        for (int c = 0; c < C; ++c) {
          sd[c] += fd[c];
          sdx[c] += fdx[c];
          fd[c] = 0.f;
          fdx[c] = 0.f;
        }
        count = 0;
      }
    }
    for (int c = 0; c < C; ++c) {
      sd[c] += fd[c];
      sdx[c] += fdx[c];
    }
  });
  std::vector<double> tot(static_cast<size_t>(s.B) * 2 * C, 0.0);
  std::vector<double> dsc(C, 0.0), dof(C, 0.0);
  for (int b = 0; b < s.B; ++b) {
    for (int k = 0; k < ch.chunks; ++k) {
      const double* p = part.data() + (b * ch.chunks + k) * 2 * C;
      for (int c = 0; c < C; ++c) {
        tot[b * 2 * C + c] += p[c];
        tot[b * 2 * C + C + c] += p[C + c];
      }
    }
    for (int c = 0; c < C; ++c) {
      dof[c] += tot[b * 2 * C + c];
      dsc[c] += tot[b * 2 * C + C + c];
    }
  }
  for (int c = 0; c < C; ++c) {
    dscale[c] = static_cast<float>(dsc[c]);
    doffset[c] = static_cast<float>(dof[c]);
  }
  // Pass 2: dx = r * (dz * s - mean(dz * s) - xhat * mean(dz * s * xhat)).
  std::vector<float> k1(static_cast<size_t>(s.B) * C), k2(static_cast<size_t>(s.B) * C);
  for (int b = 0; b < s.B; ++b)
    for (int c = 0; c < C; ++c) {
      k1[b * C + c] = static_cast<float>(scale[c] * tot[b * 2 * C + c] / N);
      k2[b * C + c] = static_cast<float>(scale[c] * tot[b * 2 * C + C + c] / N);
    }
  std::vector<double> dpart(static_cast<size_t>(ch.items) * C, 0.0);
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    const float* mu = mean + b * C;
    const float* r = rstd + b * C;
    const float* a1 = k1.data() + b * C;
    const float* a2 = k2.data() + b * C;
    double* db = dpart.data() + (b * ch.chunks + k) * C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    const int64_t base = b * N * C;
    if (vec == VecKind::kV16)
      return BackwardApplyVec<v16>(x + base, y + base, dy + base, mu, r, scale, a1, a2, C, i0, i1, slope, dx + base, db);
    if (vec == VecKind::kV8)
      return BackwardApplyVec<v8>(x + base, y + base, dy + base, mu, r, scale, a1, a2, C, i0, i1, slope, dx + base, db);
    std::vector<float> fb(C, 0.f);
    int64_t count = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = base + i * C;
      for (int c = 0; c < C; ++c) {
        const float dz = y[o + c] > 0.f ? dy[o + c] : slope * dy[o + c];
        const float h = (x[o + c] - mu[c]) * r[c];
        const float v = r[c] * (dz * scale[c] - a1[c] - h * a2[c]);
        dx[o + c] = v;
        fb[c] += v;
      }
      if (++count == 256) {
        for (int c = 0; c < C; ++c) {
          db[c] += fb[c];
          fb[c] = 0.f;
        }
        count = 0;
      }
    }
    for (int c = 0; c < C; ++c) db[c] += fb[c];
  });
  for (int c = 0; c < C; ++c) {
    double v = 0;
    for (int64_t it = 0; it < ch.items; ++it) v += dpart[it * C + c];
    dbias[c] = static_cast<float>(v);
  }
}

// ---------------------------------------------------------------------------
// The MultiTalent loss passes, vectorised over the flattened [N*C] values of one sample with
// 16-lane vectors in every build (lane l of vector v holds channel (v*16 + l) mod C, a pattern
// that repeats every C vectors = 16 voxels), so each lane computes the same way everywhere.

using LV = v16;
using LI = i16v;
constexpr int kLL = 16;
// Channel counts up to this take the vector paths (C accumulators of each statistic).
constexpr int kMaxLossC = 64;

inline LV Bits(LI i) {
  LV f;
  std::memcpy(&f, &i, sizeof(f));
  return f;
}
inline LI Ints(LV f) {
  LI i;
  std::memcpy(&i, &f, sizeof(i));
  return i;
}

// exp(x) for x <= 0 (Cephes' expf polynomial; x below -87.3 gives exp(-87.3) ~ 1.2e-38).
inline LV ExpNonPositive(LV x) {
  x = x < SplatV<LV>(-87.3f) ? SplatV<LV>(-87.3f) : x;
  const LV magic = SplatV<LV>(12582912.f);  // 1.5 * 2^23: rounds to the nearest integer
  const LV k = (x * 1.44269504088896341f + magic) - magic;
  LV r = x - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  LV p = SplatV<LV>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.f;
  const LI e = (__builtin_convertvector(k, LI) + 127) << 23;
  return p * Bits(e);
}

// log(u) for u in [1, 2] (Cephes' logf).
inline LV LogOneToTwo(LV u) {
  const LI i = Ints(u);
  LI e = ((i >> 23) & 0xff) - 126;
  LV m = Bits((i & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  const auto small = m < SplatV<LV>(0.707106781186547524f);
  e = small ? e - 1 : e;
  m = small ? m + m - 1.f : m - 1.f;
  const LV z = m * m;
  LV y = SplatV<LV>(7.0376836292e-2f);
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  const LV ef = __builtin_convertvector(e, LV);
  y = y + ef * -2.12194440e-4f;
  y = y - z * 0.5f;
  return m + y + ef * 0.693359375f;
}

// log(1 + e) for e in [0, 1], accurate for small e (log(u) * e / (u - 1), u = 1 + e).
inline LV Log1pUnit(LV e) {
  const LV u = e + 1.f;
  const LV d = u - 1.f;
  const LV l = LogOneToTwo(u);
  return d == SplatV<LV>(0.f) ? e : l * (e / (d == SplatV<LV>(0.f) ? SplatV<LV>(1.f) : d));
}

// BCE-with-logits and sigmoid of z: e = exp(-|z|), p = z >= 0 ? 1/(1+e) : e/(1+e).
struct SigmoidParts {
  LV e, p;
};
inline SigmoidParts Sigmoid(LV z) {
  const LV az = z < SplatV<LV>(0.f) ? -z : z;
  const LV e = ExpNonPositive(-az);
  const LV inv = SplatV<LV>(1.f) / (e + 1.f);
  return {e, z >= SplatV<LV>(0.f) ? inv : e * inv};
}

// Scalar twins for the values that do not fill a vector (same formulas, lane by lane).
inline void LossStatsOne(float zv, float gv, double* p, int c, int C) {
  alignas(64) float zz[kLL] = {zv}, gg[kLL] = {gv};
  const LV z = LoadV<LV>(zz), g = LoadV<LV>(gg);
  const SigmoidParts s = Sigmoid(z);
  const LV zero = SplatV<LV>(0.f);
  const LV bce = (z > zero ? z : zero) - z * g + Log1pUnit(s.e);
  p[c] += bce[0];
  p[C + c] += (s.p * g)[0];
  p[2 * C + c] += s.p[0];
  p[3 * C + c] += gv;
}

void LossStats(const NormActShape& s, const float* z, const float* g, double* stats,
               ThreadPool& pool) {
  const int C = s.C;
  const int64_t N = s.N;
  const int64_t BC = static_cast<int64_t>(s.B) * C;
  const Chunking ch = MakeChunking(s);
  std::vector<double> part(static_cast<size_t>(ch.items) * 4 * C, 0.0);
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    double* p = part.data() + (b * ch.chunks + k) * 4 * C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    const float* zb = z + b * N * C;
    const float* gb = g + b * N * C;
    int64_t i = i0;
    if (C <= kMaxLossC) {
      // Groups of 16 voxels = C vectors; float accumulators flushed into doubles every 16 groups.
      LV acc[4][kMaxLossC];
      for (int q = 0; q < 4; ++q)
        for (int v = 0; v < C; ++v) acc[q][v] = LV{};
      const LV zero = SplatV<LV>(0.f);
      int groups = 0;
      auto flush = [&] {
        for (int v = 0; v < C; ++v)
          for (int l = 0; l < kLL; ++l) {
            const int c = (v * kLL + l) % C;
            for (int q = 0; q < 4; ++q) p[q * C + c] += acc[q][v][l];
          }
        for (int q = 0; q < 4; ++q)
          for (int v = 0; v < C; ++v) acc[q][v] = LV{};
      };
      for (; i + kLL <= i1; i += kLL) {
        const float* zi = zb + i * C;
        const float* gi = gb + i * C;
        for (int v = 0; v < C; ++v) {
          const LV zv = LoadV<LV>(zi + v * kLL);
          const LV gv = LoadV<LV>(gi + v * kLL);
          const SigmoidParts sp = Sigmoid(zv);
          acc[0][v] += (zv > zero ? zv : zero) - zv * gv + Log1pUnit(sp.e);
          acc[1][v] += sp.p * gv;
          acc[2][v] += sp.p;
          acc[3][v] += gv;
        }
        if (++groups == 16) {
          flush();
          groups = 0;
        }
      }
      flush();
    }
    for (; i < i1; ++i)
      for (int c = 0; c < C; ++c) LossStatsOne(zb[i * C + c], gb[i * C + c], p, c, C);
  });
  for (int64_t j = 0; j < 4 * BC; ++j) stats[j] = 0.0;
  for (int b = 0; b < s.B; ++b)
    for (int64_t k = 0; k < ch.chunks; ++k) {
      const double* p = part.data() + (b * ch.chunks + k) * 4 * C;
      for (int q = 0; q < 4; ++q)
        for (int c = 0; c < C; ++c) stats[q * BC + b * C + c] += p[q * C + c];
    }
}

// dz = u * (p - g) - p * (1 - p) * (v * g - w); + 0 turns -0 into +0 (masked entries get exactly
// +0, as the tfjs composition gives).
inline LV LossGradVec(LV z, LV g, LV u, LV v, LV w) {
  const LV p = Sigmoid(z).p;
  return u * (p - g) - p * (1.f - p) * (v * g - w) + 0.f;
}

// coef [3][B*C] = {u, v, w}: dz = u * (p - g) - p * (1 - p) * (v * g - w).
void LossGrad(const NormActShape& s, const float* z, const float* g, const float* coef,
              float* dz, ThreadPool& pool) {
  const int C = s.C;
  const int64_t N = s.N;
  const int64_t BC = static_cast<int64_t>(s.B) * C;
  const Chunking ch = MakeChunking(s);
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    const float* u = coef + b * C;
    const float* v = coef + BC + b * C;
    const float* w = coef + 2 * BC + b * C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    const int64_t base = b * N * C;
    int64_t i = i0;
    if (C <= kMaxLossC) {
      LV cu[kMaxLossC], cv[kMaxLossC], cw[kMaxLossC];
      for (int q = 0; q < C; ++q)
        for (int l = 0; l < kLL; ++l) {
          const int c = (q * kLL + l) % C;
          cu[q][l] = u[c];
          cv[q][l] = v[c];
          cw[q][l] = w[c];
        }
      for (; i + kLL <= i1; i += kLL) {
        const int64_t o = base + i * C;
        for (int q = 0; q < C; ++q)
          StoreV(dz + o + q * kLL, LossGradVec(LoadV<LV>(z + o + q * kLL), LoadV<LV>(g + o + q * kLL), cu[q], cv[q], cw[q]));
      }
    }
    for (; i < i1; ++i)
      for (int c = 0; c < C; ++c) {
        const int64_t o = base + i * C + c;
        const LV r = LossGradVec(SplatV<LV>(z[o]), SplatV<LV>(g[o]), SplatV<LV>(u[c]), SplatV<LV>(v[c]), SplatV<LV>(w[c]));
        dz[o] = r[0];
      }
  });
}

}  // namespace

const NormActKernelSet kNormActKernels = {NormActForward, NormActBackward, LossStats, LossGrad};

}  // namespace MTC_ISA_NS
}  // namespace mtc
