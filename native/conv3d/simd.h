// Float vectors for the kernels. Included inside `namespace mtc::MTC_ISA_NS`, so each
// instruction-set build (avx512, avx2, generic) gets its own copy compiled with its own flags.
//
// v8 (8 lanes) is the vector of the avx2 and generic builds; the avx512 build also uses v16
// (16 lanes, one zmm register) and keeps v8 for 8-wide channel blocks; the generic x86 build
// blocks the convolutions with v4 (one SSE register). GCC's vector extensions lower them to
// whatever the build's flags allow.
//
// Reproducibility: every lane of every kernel sees the same sequence of IEEE operations whatever
// the vector width, so the avx512 and avx2 builds (both with FMA contraction) give bit-identical
// results; the generic build has no FMA and differs in the last bits.
#pragma once

#include <cstring>

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));
typedef int i8v __attribute__((vector_size(32)));
typedef int i16v __attribute__((vector_size(64)));

template <typename V>
struct VecTraits;
template <>
struct VecTraits<v4> {
  static constexpr int kLanes = 4;
};
template <>
struct VecTraits<v8> {
  static constexpr int kLanes = 8;
  using Int = i8v;
};
template <>
struct VecTraits<v16> {
  static constexpr int kLanes = 16;
  using Int = i16v;
};

template <typename V>
inline V LoadV(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename V>
inline void StoreV(float* p, V v) {
  std::memcpy(p, &v, sizeof(v));
}
template <typename V>
inline V SplatV(float f) {
  return V{} + f;
}

inline v8 Load(const float* p) { return LoadV<v8>(p); }
inline void Store(float* p, v8 v) { StoreV(p, v); }
inline v8 Splat(float f) { return SplatV<v8>(f); }

#if defined(__AVX512F__)
constexpr bool kHasV16 = true;
#else
constexpr bool kHasV16 = false;
#endif
