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
inline v8 LeakyGrad(v8 y, v8 d, float slope) {
  return y > Splat(0.f) ? d : d * slope;
}
inline v8 Leaky(v8 z, float slope) { return z > Splat(0.f) ? z : z * slope; }

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

void NormActForward(const NormActShape& s, const float* x, const float* scale,
                    const float* offset, float eps, float slope, float* y, float* mean,
                    float* rstd, ThreadPool& pool) {
  const int C = s.C;
  const int64_t N = s.N;
  const Chunking ch = MakeChunking(s);
  // Shifted sums (shift = first voxel of the sample) keep E[x^2] - E[x]^2 accurate.
  std::vector<double> part(static_cast<size_t>(ch.items) * 2 * C);
  const bool vec = C % 8 == 0 && C <= kMaxVecC;
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    const float* xb = x + b * N * C;
    const float* shift = xb;
    double* sum = part.data() + (b * ch.chunks + k) * 2 * C;
    double* sq = sum + C;
    if (vec) {
      const int V = C / 8;
      v8 vs[kMaxVecC / 8], vq[kMaxVecC / 8], sh[kMaxVecC / 8];
      for (int v = 0; v < V; ++v) {
        vs[v] = Splat(0.f);
        vq[v] = Splat(0.f);
        sh[v] = Load(shift + 8 * v);
      }
      const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
      for (int64_t j0 = i0; j0 < i1; j0 += 256) {
        const int64_t j1 = std::min(i1, j0 + 256);
        for (int64_t i = j0; i < j1; ++i) {
          const float* xi = xb + i * C;
          for (int v = 0; v < V; ++v) {
            const v8 d = Load(xi + 8 * v) - sh[v];
            vs[v] += d;
            vq[v] += d * d;
          }
        }
        for (int v = 0; v < V; ++v) {
          for (int l = 0; l < 8; ++l) {
            sum[8 * v + l] += vs[v][l];
            sq[8 * v + l] += vq[v][l];
          }
          vs[v] = Splat(0.f);
          vq[v] = Splat(0.f);
        }
      }
      return;
    }
    std::vector<float> fs(C, 0.f), fq(C, 0.f);
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
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
    if (vec) {
      const int V = C / 8;
      v8 va[kMaxVecC / 8], vo[kMaxVecC / 8];
      for (int v = 0; v < V; ++v) {
        va[v] = Load(a + 8 * v);
        vo[v] = Load(o + 8 * v);
      }
      for (int64_t i = i0; i < i1; ++i) {
        const float* xi = x + (b * N + i) * C;
        float* yi = y + (b * N + i) * C;
        for (int v = 0; v < V; ++v) Store(yi + 8 * v, Leaky(Load(xi + 8 * v) * va[v] + vo[v], slope));
      }
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      const float* xi = x + (b * N + i) * C;
      float* yi = y + (b * N + i) * C;
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
  const bool vec = C % 8 == 0 && C <= kMaxVecC;
  // Pass 1: per (b, c) sums of dz and dz * xhat (dz = dy * lrelu'(.)).
  std::vector<double> part(static_cast<size_t>(ch.items) * 2 * C);
  ForItems(ch, pool, [&](int64_t b, int64_t k) {
    double* sd = part.data() + (b * ch.chunks + k) * 2 * C;
    double* sdx = sd + C;
    const float* mu = mean + b * C;
    const float* r = rstd + b * C;
    const int64_t i0 = ch.Begin(k, N), i1 = ch.Begin(k + 1, N);
    if (vec) {
      const int V = C / 8;
      v8 ad[kMaxVecC / 8], adx[kMaxVecC / 8], vm[kMaxVecC / 8], vr[kMaxVecC / 8];
      for (int v = 0; v < V; ++v) {
        ad[v] = Splat(0.f);
        adx[v] = Splat(0.f);
        vm[v] = Load(mu + 8 * v);
        vr[v] = Load(r + 8 * v);
      }
      for (int64_t j0 = i0; j0 < i1; j0 += 256) {
        const int64_t j1 = std::min(i1, j0 + 256);
        for (int64_t i = j0; i < j1; ++i) {
          const int64_t o = (b * N + i) * C;
          for (int v = 0; v < V; ++v) {
            const v8 dz = LeakyGrad(Load(y + o + 8 * v), Load(dy + o + 8 * v), slope);
            const v8 h = (Load(x + o + 8 * v) - vm[v]) * vr[v];
            ad[v] += dz;
            adx[v] += dz * h;
          }
        }
        for (int v = 0; v < V; ++v) {
          for (int l = 0; l < 8; ++l) {
            sd[8 * v + l] += ad[v][l];
            sdx[8 * v + l] += adx[v][l];
          }
          ad[v] = Splat(0.f);
          adx[v] = Splat(0.f);
        }
      }
      return;
    }
    std::vector<float> fd(C, 0.f), fdx(C, 0.f);
    int64_t count = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = (b * N + i) * C;
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
    if (vec) {
      const int V = C / 8;
      v8 ab[kMaxVecC / 8], vm[kMaxVecC / 8], vr[kMaxVecC / 8], vs[kMaxVecC / 8], v1[kMaxVecC / 8], v2[kMaxVecC / 8];
      for (int v = 0; v < V; ++v) {
        ab[v] = Splat(0.f);
        vm[v] = Load(mu + 8 * v);
        vr[v] = Load(r + 8 * v);
        vs[v] = Load(scale + 8 * v);
        v1[v] = Load(a1 + 8 * v);
        v2[v] = Load(a2 + 8 * v);
      }
      for (int64_t j0 = i0; j0 < i1; j0 += 256) {
        const int64_t j1 = std::min(i1, j0 + 256);
        for (int64_t i = j0; i < j1; ++i) {
          const int64_t o = (b * N + i) * C;
          for (int v = 0; v < V; ++v) {
            const v8 dz = LeakyGrad(Load(y + o + 8 * v), Load(dy + o + 8 * v), slope);
            const v8 h = (Load(x + o + 8 * v) - vm[v]) * vr[v];
            const v8 val = vr[v] * (dz * vs[v] - v1[v] - h * v2[v]);
            Store(dx + o + 8 * v, val);
            ab[v] += val;
          }
        }
        for (int v = 0; v < V; ++v) {
          for (int l = 0; l < 8; ++l) db[8 * v + l] += ab[v][l];
          ab[v] = Splat(0.f);
        }
      }
      return;
    }
    std::vector<float> fb(C, 0.f);
    int64_t count = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = (b * N + i) * C;
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
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = (b * N + i) * C;
      for (int c = 0; c < C; ++c) {
        const float zv = z[o + c];
        const float gv = g[o + c];
        const float e = std::exp(-std::fabs(zv));
        const float inv = 1.f / (1.f + e);
        const float pr = zv >= 0.f ? inv : e * inv;
        p[c] += std::max(zv, 0.f) - zv * gv + std::log1p(e);
        p[C + c] += pr * gv;
        p[2 * C + c] += pr;
        p[3 * C + c] += gv;
      }
    }
  });
  for (int64_t j = 0; j < 4 * BC; ++j) stats[j] = 0.0;
  for (int b = 0; b < s.B; ++b)
    for (int64_t k = 0; k < ch.chunks; ++k) {
      const double* p = part.data() + (b * ch.chunks + k) * 4 * C;
      for (int q = 0; q < 4; ++q)
        for (int c = 0; c < C; ++c) stats[q * BC + b * C + c] += p[q * C + c];
    }
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
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = (b * N + i) * C;
      for (int c = 0; c < C; ++c) {
        const float zv = z[o + c];
        const float gv = g[o + c];
        const float pr = 1.f / (1.f + std::exp(-zv));
        // + 0 turns -0 into +0: masked entries get exactly +0, as the tfjs composition gives.
        dz[o + c] = u[c] * (pr - gv) - pr * (1.f - pr) * (v[c] * gv - w[c]) + 0.f;
      }
    }
  });
}

}  // namespace

const NormActKernelSet kNormActKernels = {NormActForward, NormActBackward, LossStats, LossGrad};

}  // namespace MTC_ISA_NS
}  // namespace mtc
