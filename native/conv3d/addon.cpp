// Node-API bindings for the 3D convolution kernels.
//
// JS API (all synchronous, outputs preallocated by the caller):
//   forward(x: Float32Array, w: Float32Array, params: Int32Array, y: Float32Array)
//   backpropInput(dy: Float32Array, w: Float32Array, params: Int32Array, dx: Float32Array)
//   backpropFilter(x: Float32Array, dy: Float32Array, params: Int32Array, dw: Float32Array)
//   alloc(n: number): Float32Array   (pooled output buffer, contents unspecified)
//   info(): { isa, threads, isas: string[] (builds this CPU runs, best first), lanes }
//   setIsa(name: string): void       (throws when the CPU cannot run that build)
//   setThreads(n: number): void      (0: the default count)
//   fmaPeak(ms: number): { gflops, cpuGflops, threads, lanes, chains, ms, isa }   (FMA throughput probe)
//   normActForward, normActBackward, lossStats, lossGrad: see normact_addon.cpp
//   sgdStep, adamwStep, sumSquares, scaleArrays: see optim_addon.cpp
//   concatChannels, splitChannels, addBias, columnSums, depthToSpaceBias(Grad), residualAct(Grad): layout.cpp
// params = [B, Di, Hi, Wi, Ci, Do, Ho, Wo, Co, kd, kh, kw, sd, sh, sw, pf, pt, pl]

#include <node_api.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "conv3d.h"
#include "isa.h"
#include "normact_addon.h"
#include "optim_addon.h"
#include "layout_addon.h"

namespace mtc {

const char* ValidateParams(const ConvParams& p) {
  const int all[] = {p.B, p.Di, p.Hi, p.Wi, p.Ci, p.Do, p.Ho, p.Wo, p.Co,
                     p.kd, p.kh, p.kw, p.sd, p.sh, p.sw};
  for (int v : all)
    if (v <= 0) return "all sizes, kernel extents and strides must be positive";
  if (p.pf < 0 || p.pt < 0 || p.pl < 0) return "padding must be non-negative";
  // The output extent must match the geometry; reject anything that would
  // index outside the (implicitly zero-padded) input.
  if ((p.Do - 1) * p.sd - p.pf + p.kd - 1 < 0 || (p.Ho - 1) * p.sh - p.pt + p.kh - 1 < 0 ||
      (p.Wo - 1) * p.sw - p.pl + p.kw - 1 < 0)
    return "output extent inconsistent with padding";
  return nullptr;
}

namespace {
std::atomic<int>& IsaSlot() {
  static std::atomic<int> slot{static_cast<int>(InitialIsa())};
  return slot;
}
}  // namespace

Isa CurrentIsa() { return static_cast<Isa>(IsaSlot().load(std::memory_order_relaxed)); }

bool SelectIsa(Isa isa) {
  if (!IsaSupported(isa)) return false;
  IsaSlot().store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

namespace {

const KernelSet& Kernels() {
  return ForCurrentIsa(MTC_AVX512(&avx512::kKernels), MTC_AVX2(&avx2::kKernels), generic::kKernels);
}

bool ThrowIf(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return false;
  napi_throw_error(env, "MTC_CONV3D", what);
  return true;
}

struct F32 {
  float* data = nullptr;
  size_t length = 0;
};

bool GetF32(napi_env env, napi_value v, const char* name, F32* out) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type type;
    void* data = nullptr;
    size_t len = 0;
    if (napi_get_typedarray_info(env, v, &type, &len, &data, nullptr, nullptr) == napi_ok &&
        type == napi_float32_array) {
      out->data = static_cast<float*>(data);
      out->length = len;
      return true;
    }
  }
  const std::string msg = std::string("conv3d native: ") + name + " must be a Float32Array";
  napi_throw_type_error(env, "MTC_CONV3D", msg.c_str());
  return false;
}

bool GetParams(napi_env env, napi_value v, ConvParams* p) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type;
  void* data = nullptr;
  size_t len = 0;
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &len, &data, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || len != static_cast<size_t>(kNumParams)) {
    napi_throw_type_error(env, "MTC_CONV3D", "conv3d native: params must be an Int32Array(18)");
    return false;
  }
  const int32_t* a = static_cast<const int32_t*>(data);
  *p = ConvParams{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                  a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17]};
  if (const char* err = ValidateParams(*p)) {
    const std::string msg = std::string("conv3d native: ") + err;
    napi_throw_range_error(env, "MTC_CONV3D", msg.c_str());
    return false;
  }
  return true;
}

bool CheckLen(napi_env env, const F32& a, double expected, const char* name) {
  if (static_cast<double>(a.length) == expected) return true;
  char buf[160];
  std::snprintf(buf, sizeof(buf), "conv3d native: %s has %zu elements, expected %.0f", name,
                a.length, expected);
  napi_throw_range_error(env, "MTC_CONV3D", buf);
  return false;
}

double InSize(const ConvParams& p) { return 1.0 * p.B * p.Di * p.Hi * p.Wi * p.Ci; }
double OutSize(const ConvParams& p) { return 1.0 * p.B * p.Do * p.Ho * p.Wo * p.Co; }
double FilterSize(const ConvParams& p) { return 1.0 * p.kd * p.kh * p.kw * p.Ci * p.Co; }

enum class Op { kForward, kBackpropInput, kBackpropFilter };

template <Op op>
napi_value Run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (ThrowIf(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "bad call"))
    return nullptr;
  if (argc != 4) {
    napi_throw_type_error(env, "MTC_CONV3D", "conv3d native: expected 4 arguments");
    return nullptr;
  }
  ConvParams p;
  F32 a, b, out;
  const char* names[3] = {op == Op::kBackpropInput ? "dy" : "x",
                          op == Op::kForward ? "filter" : op == Op::kBackpropInput ? "filter" : "dy",
                          op == Op::kForward ? "y" : op == Op::kBackpropInput ? "dx" : "dw"};
  if (!GetF32(env, argv[0], names[0], &a) || !GetF32(env, argv[1], names[1], &b) ||
      !GetParams(env, argv[2], &p) || !GetF32(env, argv[3], names[2], &out))
    return nullptr;
  ThreadPool& pool = GlobalPool();
  switch (op) {
    case Op::kForward:
      if (!CheckLen(env, a, InSize(p), "x") || !CheckLen(env, b, FilterSize(p), "filter") ||
          !CheckLen(env, out, OutSize(p), "y"))
        return nullptr;
      Kernels().forward(p, a.data, b.data, out.data, pool);
      break;
    case Op::kBackpropInput:
      if (!CheckLen(env, a, OutSize(p), "dy") || !CheckLen(env, b, FilterSize(p), "filter") ||
          !CheckLen(env, out, InSize(p), "dx"))
        return nullptr;
      Kernels().backprop_input(p, a.data, b.data, out.data, pool);
      break;
    case Op::kBackpropFilter:
      if (!CheckLen(env, a, InSize(p), "x") || !CheckLen(env, b, OutSize(p), "dy") ||
          !CheckLen(env, out, FilterSize(p), "dw"))
        return nullptr;
      Kernels().backprop_filter(p, a.data, b.data, out.data, pool);
      break;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

// Output buffers. Fresh multi-megabyte allocations page-fault on first touch,
// which costs as much as a small convolution, so finalized outputs go to a
// size-keyed free list (capped) and are handed out again. Contents of a
// returned buffer are unspecified: every kernel writes all of its output.
class BufferPool {
 public:
  static constexpr size_t kCapBytes = size_t{256} << 20;

  void* Acquire(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        free_bytes_ -= bytes;
        return p;
      }
    }
    return std::malloc(bytes);
  }

  void Release(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_bytes_ + bytes > kCapBytes) {
      std::free(p);
      return;
    }
    free_.emplace(bytes, p);
    free_bytes_ += bytes;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t free_bytes_ = 0;
};

BufferPool& Buffers() {
  static BufferPool* pool = new BufferPool();  // leaked: finalizers may run at teardown
  return *pool;
}

// V8 counts an external ArrayBuffer's bytes as external memory by itself, and starts a major
// collection whenever that count has grown by 64 MB since the last one (a fixed soft limit). A
// training step allocates hundreds of MB of kernel outputs, nearly all dead by the end of the
// step, so that rule alone ran about five major collections per step of the ResEnc U-Net at 32^3,
// and their concurrent marking took a core from the kernel threads. Each pooled buffer therefore
// counts only kExternalShare of its bytes: V8 is told to discount the rest while the buffer lives
// (napi_adjust_external_memory) and to count it again when it is finalized, so the count stays
// balanced and such a collection comes after about 512 MB of outputs instead of 64 MB. Memory
// stays bounded (the collections still come).
// MTC_EXTERNAL_MEMORY_SHARE (0 < share <= 1) overrides the share, for measurements.
// Measured on a Zen 4 for the quickstart's U-Net (docs/BENCHMARKS.md, 2026-12-04): there the share
// does not change how often these collections run, because most are started by the give-back in
// FinalizeBuffer, which finds the count over V8's limit. The buffers come back to the pool only at
// those collections, not at scavenges. Giving back in batches was slower; giving nothing back
// emptied the pool, and the kernels then wrote to fresh pages at half the speed.
constexpr double kExternalShare = 0.125;

int64_t UnaccountedBytes(size_t bytes) {
  static const double share = [] {
    const char* v = std::getenv("MTC_EXTERNAL_MEMORY_SHARE");
    const double s = v ? std::atof(v) : kExternalShare;
    return s > 0.0 && s <= 1.0 ? s : kExternalShare;
  }();
  return static_cast<int64_t>(static_cast<double>(bytes) * (1.0 - share));
}

void FinalizeBuffer(napi_env env, void* data, void* hint) {
  const size_t bytes = reinterpret_cast<size_t>(hint);
  int64_t ignored;
  if (UnaccountedBytes(bytes) > 0) napi_adjust_external_memory(env, UnaccountedBytes(bytes), &ignored);
  Buffers().Release(data, bytes);
}

// alloc(n): Float32Array of n elements backed by the pool (not zeroed).
napi_value Alloc(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int64_t n = -1;
  if (argc != 1 || napi_get_value_int64(env, argv[0], &n) != napi_ok || n <= 0 ||
      n > (int64_t{1} << 40)) {
    napi_throw_range_error(env, "MTC_CONV3D", "conv3d native: alloc(n) needs a positive length");
    return nullptr;
  }
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  void* data = Buffers().Acquire(bytes);
  if (!data) {
    napi_throw_error(env, "MTC_CONV3D", "conv3d native: out of memory");
    return nullptr;
  }
  // MTC_CONV3D_POISON=1 fills outputs with NaN so tests catch unwritten elements.
  static const bool poison = [] {
    const char* v = std::getenv("MTC_CONV3D_POISON");
    return v && std::string(v) == "1";
  }();
  if (poison) {
    float* f = static_cast<float*>(data);
    for (int64_t i = 0; i < n; ++i) f[i] = std::numeric_limits<float>::quiet_NaN();
  }
  napi_value ab, ta;
  if (napi_create_external_arraybuffer(env, data, bytes, FinalizeBuffer,
                                       reinterpret_cast<void*>(bytes), &ab) != napi_ok) {
    Buffers().Release(data, bytes);
    napi_throw_error(env, "MTC_CONV3D", "conv3d native: cannot create an external ArrayBuffer");
    return nullptr;
  }
  napi_create_typedarray(env, napi_float32_array, static_cast<size_t>(n), ab, 0, &ta);
  {
    int64_t ignored;
    if (UnaccountedBytes(bytes) > 0) napi_adjust_external_memory(env, -UnaccountedBytes(bytes), &ignored);
  }
  return ta;
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, isa, threads, lanes, isas;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, Kernels().isa, NAPI_AUTO_LENGTH, &isa);
  napi_create_int32(env, GlobalPool().size(), &threads);
  napi_create_int32(env, Kernels().vector_lanes, &lanes);
  napi_create_array(env, &isas);
  uint32_t n = 0;
  for (Isa i : {Isa::kAvx512, Isa::kAvx2, Isa::kGeneric}) {
    if (!IsaSupported(i)) continue;
    napi_value name;
    napi_create_string_utf8(env, IsaName(i), NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, isas, n++, name);
  }
  napi_set_named_property(env, obj, "isa", isa);
  napi_set_named_property(env, obj, "threads", threads);
  napi_set_named_property(env, obj, "lanes", lanes);
  napi_set_named_property(env, obj, "isas", isas);
  return obj;
}

napi_value SetIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char buf[32] = {0};
  size_t len = 0;
  Isa isa;
  if (argc != 1 || napi_get_value_string_utf8(env, argv[0], buf, sizeof(buf), &len) != napi_ok ||
      !ParseIsa(buf, &isa)) {
    napi_throw_type_error(env, "MTC_CONV3D", "conv3d native: setIsa(name) takes 'avx512', 'avx2' or 'generic'");
    return nullptr;
  }
  if (!SelectIsa(isa)) {
    const std::string msg = std::string("conv3d native: the ") + buf + " build cannot run here (this CPU lacks its instructions, or the compiler could not build it)";
    napi_throw_range_error(env, "MTC_CONV3D", msg.c_str());
    return nullptr;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = -1;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 0 || n > 256) {
    napi_throw_range_error(env, "MTC_CONV3D", "conv3d native: setThreads(n) takes 0 (default) to 256");
    return nullptr;
  }
  SetGlobalPoolThreads(n == 0 ? DefaultThreadCount() : n);
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// fmaPeak(ms[, 'broadcast']): every pool thread runs the build's FMA loop (with 'broadcast': the
// same chains, each FMA taking a broadcast memory operand) for about `ms` milliseconds at once;
// returns the aggregate rate. The caller takes the best of several probes.
napi_value FmaPeak(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double ms = 0;
  if (argc < 1 || argc > 2 || napi_get_value_double(env, argv[0], &ms) != napi_ok || !(ms > 0 && ms <= 10000)) {
    napi_throw_range_error(env, "MTC_CONV3D", "conv3d native: fmaPeak(ms[, 'broadcast']) takes 0 < ms <= 10000");
    return nullptr;
  }
  bool broadcast = false;
  if (argc == 2) {
    char kind[16] = {0};
    size_t len = 0;
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_undefined) {
      if (t != napi_string || napi_get_value_string_utf8(env, argv[1], kind, sizeof(kind), &len) != napi_ok ||
          std::strcmp(kind, "broadcast") != 0) {
        napi_throw_type_error(env, "MTC_CONV3D", "conv3d native: fmaPeak's second argument must be 'broadcast' or absent");
        return nullptr;
      }
      broadcast = true;
    }
  }
  const KernelSet& k = Kernels();
  const FmaLoopFn loop = broadcast ? k.broadcast_fma_loop : k.fma_loop;
  ThreadPool& pool = GlobalPool();
  using Clock = std::chrono::steady_clock;
  // Calibrate the iteration count on one thread (about 1/10 of the budget).
  int64_t iters = 1 << 14;
  for (;;) {
    const auto t0 = Clock::now();
    loop(iters);
    const double dt = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (dt > ms / 10 || iters > (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(iters * (ms / std::max(dt, 1e-3)));
      break;
    }
    iters *= 4;
  }
  iters = std::max<int64_t>(iters, 1);
  const int threads = pool.size();
  std::vector<double> flops(threads, 0.0), cpu(threads, 0.0);
  const auto t0 = Clock::now();
  pool.ParallelFor(threads, 1, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const double c0 = ThreadCpuSeconds();
      flops[i] = loop(iters);
      cpu[i] = ThreadCpuSeconds() - c0;
    }
  });
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double total = 0, per_cpu = 0;
  for (int i = 0; i < threads; ++i) {
    total += flops[i];
    if (cpu[i] > 0) per_cpu += flops[i] / cpu[i];
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_double(env, total / secs / 1e9, &v);
  napi_set_named_property(env, obj, "gflops", v);
  // Sum over threads of each thread's rate per second of its own CPU time: what the cores do
  // when they run, whatever else shares them (the wall-clock rate drops under other load).
  napi_create_double(env, per_cpu / 1e9, &v);
  napi_set_named_property(env, obj, "cpuGflops", v);
  napi_create_int32(env, threads, &v);
  napi_set_named_property(env, obj, "threads", v);
  napi_create_int32(env, k.vector_lanes, &v);
  napi_set_named_property(env, obj, "lanes", v);
  napi_create_int32(env, 12, &v);
  napi_set_named_property(env, obj, "chains", v);
  napi_create_double(env, secs * 1e3, &v);
  napi_set_named_property(env, obj, "ms", v);
  napi_create_string_utf8(env, k.isa, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "isa", v);
  napi_get_boolean(env, broadcast, &v);
  napi_set_named_property(env, obj, "broadcast", v);
  return obj;
}

}  // namespace
}  // namespace mtc

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor props[] = {
      {"forward", nullptr, mtc::Run<mtc::Op::kForward>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"backpropInput", nullptr, mtc::Run<mtc::Op::kBackpropInput>, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"backpropFilter", nullptr, mtc::Run<mtc::Op::kBackpropFilter>, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"alloc", nullptr, mtc::Alloc, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, mtc::Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setIsa", nullptr, mtc::SetIsa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, mtc::SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fmaPeak", nullptr, mtc::FmaPeak, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normActForward", nullptr, mtc::NormActForwardBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normActBackward", nullptr, mtc::NormActBackwardBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lossStats", nullptr, mtc::LossStatsBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lossGrad", nullptr, mtc::LossGradBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdStep", nullptr, mtc::SgdStepBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamwStep", nullptr, mtc::AdamwStepBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, mtc::SumSquaresBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scaleArrays", nullptr, mtc::ScaleArraysBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"concatChannels", nullptr, mtc::ConcatChannelsBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"splitChannels", nullptr, mtc::SplitChannelsBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addBias", nullptr, mtc::AddBiasBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"columnSums", nullptr, mtc::ColumnSumsBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthToSpaceBias", nullptr, mtc::DepthToSpaceBiasBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"depthToSpaceBiasGrad", nullptr, mtc::DepthToSpaceBiasGradBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"residualAct", nullptr, mtc::ResidualActBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"add", nullptr, mtc::AddBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"residualActGrad", nullptr, mtc::ResidualActGradBinding, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
