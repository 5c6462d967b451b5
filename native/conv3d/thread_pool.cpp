#include "thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

namespace mtc {

int64_t SpinMicros() {
  static const int64_t us = [] {
    if (const char* env = std::getenv("MTC_POOL_SPIN_US")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && v >= 0) return static_cast<int64_t>(std::min(v, 100000L));
    }
    return int64_t{200};
  }();
  return us;
}

namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() holds or SpinMicros() have passed, giving the core to any other runnable
// thread between rounds of checks; returns done()'s last value.
template <typename Done>
bool SpinUntil(const Done& done) {
  const int64_t limit = SpinMicros();
  if (limit <= 0) return done();
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(limit);
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= until) return done();
    sched_yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Drain(int thread_index) {
  const RangeFn& fn = *job_;
  for (;;) {
    const int64_t begin = next_.fetch_add(job_grain_, std::memory_order_relaxed);
    if (begin >= job_n_) break;
    fn(begin, std::min(job_n_, begin + job_grain_), thread_index);
  }
}

void ThreadPool::WorkerLoop(int thread_index) {
  uint64_t seen = 0;
  for (;;) {
    SpinUntil([&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
      if (thread_index >= job_threads_) continue;  // not needed this round
    }
    Drain(thread_index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (active_.fetch_sub(1) == 1) done_.notify_one();  // no system call while the caller spins
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, int max_threads, const RangeFn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int threads = std::min<int64_t>(
      {static_cast<int64_t>(num_threads_), static_cast<int64_t>(std::max(1, max_threads)),
       (n + grain - 1) / grain});
  if (threads <= 1) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain), 0);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    job_grain_ = grain;
    job_threads_ = threads;
    next_.store(0, std::memory_order_relaxed);
    active_.store(threads - 1);
    generation_.fetch_add(1);
  }
  wake_.notify_all();  // no system call while every worker still spins (none waits)
  Drain(0);
  SpinUntil([&] { return active_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lock(mutex_);  // also waits for the last worker to leave its critical section
  done_.wait(lock, [&] { return active_.load() == 0; });
  job_ = nullptr;
}

int DefaultThreadCount() {
  if (const char* env = std::getenv("MTC_CONV3D_THREADS")) {
    const int v = std::atoi(env);
    if (v > 0) return std::min(v, 256);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

namespace {
std::atomic<ThreadPool*>& PoolSlot() {
  // Intentionally leaked: workers must not be joined from static destructors
  // while the process (or a worker_thread environment) is tearing down.
  static std::atomic<ThreadPool*> slot{new ThreadPool(DefaultThreadCount())};
  return slot;
}
}  // namespace

ThreadPool& GlobalPool() { return *PoolSlot().load(std::memory_order_acquire); }

void SetGlobalPoolThreads(int num_threads) {
  static std::mutex mutex;
  static std::map<int, ThreadPool*> pools;  // every pool made, by size; never joined
  std::lock_guard<std::mutex> lock(mutex);
  num_threads = std::max(1, std::min(num_threads, 256));
  ThreadPool* current = PoolSlot().load(std::memory_order_acquire);
  if (current->size() == num_threads) return;
  pools.emplace(current->size(), current);
  auto it = pools.find(num_threads);
  ThreadPool* next = it != pools.end() ? it->second : new ThreadPool(num_threads);
  pools[num_threads] = next;
  // The previous pool stays allocated: another thread may still hold a reference to it.
  PoolSlot().store(next, std::memory_order_release);
}

}  // namespace mtc
