// Fixed-size worker pool shared by every engine call. No HDF5, no napi.
//
// The engine never blocks on a queued job: parallel_for() runs the loop on the
// calling thread too and only waits for helpers that actually started, so a
// busy (or shut-down) pool degrades to serial execution instead of stalling.
// The pool is a process-wide singleton created on first use; shutdown_pool()
// joins it and a later call re-creates it. At process exit without an explicit
// shutdown the pool object is deliberately leaked (threads idle on a condition
// variable that is never destroyed), which is safe whatever order static
// destructors run in.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace h5v::engine {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();  // stop() + join
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }
  // Queues a job. Returns false (job not queued) once stop() has begun.
  bool submit(std::function<void()> job);
  // Runs the queued jobs to completion, then joins the threads. Idempotent.
  // Called from one of the pool's own threads it detaches instead of joining.
  void stop();
  // True on a thread owned by any ThreadPool.
  static bool on_pool_thread();

 private:
  void run();
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

// The shared pool (created on first use with the configured size).
std::shared_ptr<ThreadPool> shared_pool();
unsigned hardware_threads();

// Runs body(worker_index) on up to `workers` threads (the caller is worker 0
// and always participates; helpers are taken from the shared pool). body must
// pull its own work items (e.g. from an atomic counter) and return when there
// is none left. Returns when every invocation of body that started has
// returned. Helpers queued behind other work that start after the caller has
// finished do nothing.
void parallel_for(unsigned workers, const std::function<void(unsigned)>& body);

}  // namespace h5v::engine
