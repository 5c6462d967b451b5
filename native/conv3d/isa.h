// Which instruction-set build of the kernels this process runs. Chosen once at load time from
// cpuid: avx512 (F, DQ, BW, VL, with the OS saving the zmm state) when the CPU has it, else avx2
// (AVX2 + FMA), else the portable generic build. MTC_CONV3D_ISA=avx512|avx2|generic asks for a
// build (the request is ignored, and the best supported one used, when the CPU cannot run it);
// SelectIsa switches at run time (tests run every build the machine can execute).
#pragma once

#include <cstdlib>
#include <string>

namespace mtc {

enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

inline const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "generic";
  }
}

inline bool ParseIsa(const std::string& name, Isa* out) {
  if (name == "avx512") *out = Isa::kAvx512;
  else if (name == "avx2") *out = Isa::kAvx2;
  else if (name == "generic") *out = Isa::kGeneric;
  else return false;
  return true;
}

// Whether this CPU (and OS) can run the given build. GCC's cpu-feature checks include the
// XGETBV test of the OS-enabled register state for AVX and AVX-512.
inline bool IsaSupported(Isa isa) {
  if (isa == Isa::kGeneric) return true;
#if (defined(__x86_64__) || defined(__i386__)) && defined(MTC_HAVE_X86_BUILDS)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::kAvx2) return avx2;
#if defined(MTC_HAVE_AVX512_BUILD)
  return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
#else
  return false;
#endif
}

inline Isa BestIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kGeneric;
}

// The build chosen at load: MTC_CONV3D_ISA when the CPU supports it, else the best one.
inline Isa InitialIsa() {
  const char* force = std::getenv("MTC_CONV3D_ISA");
  Isa wanted;
  if (force && ParseIsa(force, &wanted) && IsaSupported(wanted)) return wanted;
  return BestIsa();
}

// The process-wide current build (set once from InitialIsa, changed by SelectIsa).
Isa CurrentIsa();
// Switches the build; false (and no change) when the CPU cannot run it.
bool SelectIsa(Isa isa);

// The kernel table of the current build: ForCurrentIsa(MTC_AVX512(&avx512::k), MTC_AVX2(&avx2::k),
// generic::k); a build that was not compiled in is passed as nullptr.
template <typename T>
const T& ForCurrentIsa(const T* avx512, const T* avx2, const T& generic) {
  const Isa isa = CurrentIsa();
  if (isa == Isa::kAvx512 && avx512) return *avx512;
  if (isa == Isa::kAvx2 && avx2) return *avx2;
  return generic;
}
// (A build not compiled in is declared but not defined: decltype names its type unevaluated.)
#if defined(MTC_HAVE_AVX512_BUILD)
#define MTC_AVX512(x) (x)
#else
#define MTC_AVX512(x) static_cast<decltype(x)>(nullptr)
#endif
#if defined(MTC_HAVE_X86_BUILDS)
#define MTC_AVX2(x) (x)
#else
#define MTC_AVX2(x) static_cast<decltype(x)>(nullptr)
#endif

}  // namespace mtc
