// 8-wide float vectors for the kernels. Included inside `namespace mtc::MTC_ISA_NS`, so each
// instruction-set build (avx2, generic) gets its own copy compiled with its own flags.
#pragma once

#include <cstring>

typedef float v8 __attribute__((vector_size(32)));

inline v8 Load(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store(float* p, v8 v) { std::memcpy(p, &v, sizeof(v)); }
inline v8 Splat(float f) { return v8{f, f, f, f, f, f, f, f}; }
