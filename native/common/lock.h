// The one global lock around libhdf5 (docs/architecture.md, invariant 2). Every H5* call
// made by h5vault happens while holding it; codec work, hashing and copying
// happen outside. Recursive so that filter callbacks and nested helpers that
// run inside a locked region may lock again.
#pragma once
#include <mutex>

namespace h5v::h5 {

std::recursive_mutex& global_mutex();

// libhdf5's automatic error printing is per-thread state in a threadsafe
// build: turn it off the first time each thread takes the lock, so no thread
// (libuv pool, engine pool, worker_threads) ever prints to stderr.
void prepare_thread();

class Lock {
 public:
  Lock() : guard_(global_mutex()) { prepare_thread(); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  void unlock() { guard_.unlock(); }
  void lock() { guard_.lock(); }

 private:
  std::unique_lock<std::recursive_mutex> guard_;
};

}  // namespace h5v::h5
