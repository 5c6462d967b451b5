// Which instruction-set build of the kernels this CPU runs: AVX2+FMA when it has them, else the
// portable build. MTC_CONV3D_ISA=generic forces the portable kernels (for testing).
#pragma once

#include <cstdlib>
#include <string>

namespace mtc {

inline bool UseAvx2Kernels() {
  const char* force = std::getenv("MTC_CONV3D_ISA");
  if (force && std::string(force) == "generic") return false;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace mtc
