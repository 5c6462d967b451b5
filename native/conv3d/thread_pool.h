// A small persistent thread pool: the calling thread plus (n - 1) workers
// share a range of work items handed out in chunks through an atomic counter.
//
// A training step makes about 150 multi-threaded calls, half of them within 100 us of the previous
// one. Waking a sleeping thread costs a system call and, in a virtual machine, an inter-processor
// interrupt: 6-8 % of the calling thread's time in a quickstart fine-tune on a 2-vCPU KVM guest.
// So a thread that is done first spins for a while (yielding the core to any other runnable thread
// between checks) watching for what it waits for, and sleeps only after that. Which thread runs
// which chunk never changes a result: each chunk's arithmetic is fixed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mtc {

class ThreadPool {
 public:
  // fn(begin, end, thread_index); thread_index < size().
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }

  // Runs fn over [0, n) in chunks of `grain` items, blocking until done.
  // With max_threads <= 1 (or n <= grain) everything runs on the caller.
  // Calls from different threads are serialised.
  void ParallelFor(int64_t n, int64_t grain, int max_threads, const RangeFn& fn);

 private:
  void WorkerLoop(int thread_index);
  void Drain(int thread_index);

  const int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // one ParallelFor at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  int job_threads_ = 1;
  std::atomic<int64_t> next_{0};
  // Written under mutex_ (the condition variables' waits read them there), read without it while spinning.
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

// How long a pool thread watches for its next job, or the caller for the workers to finish, before
// it sleeps: MTC_POOL_SPIN_US microseconds (default 200; 0 sleeps at once).
int64_t SpinMicros();

// Process-wide pool sized from MTC_CONV3D_THREADS or the usable CPU count.
ThreadPool& GlobalPool();

// Replaces the process-wide pool by one of `num_threads` threads (tests compare thread counts).
// Call only while no kernel runs; the previous pool is kept alive (idle), never joined.
void SetGlobalPoolThreads(int num_threads);

// The thread count the process would get by default (MTC_CONV3D_THREADS or the usable CPUs).
int DefaultThreadCount();

}  // namespace mtc
