#include "thread_pool.h"

#include <algorithm>

#include "engine.h"

namespace h5v::engine {

namespace {
thread_local bool t_on_pool_thread = false;

std::mutex& registry_mutex() {
  static auto* m = new std::mutex();  // leaked on purpose: usable during exit
  return *m;
}
// Guarded by registry_mutex(). Heap-held shared_ptr so no static destructor
// ever joins threads during exit.
std::shared_ptr<ThreadPool>*& registry_slot() {
  static std::shared_ptr<ThreadPool>* p = new std::shared_ptr<ThreadPool>();
  return p;
}
unsigned g_configured = 0;  // 0 = hardware threads; guarded by registry_mutex()
}  // namespace

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() { stop(); }

bool ThreadPool::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> g(m_);
    if (stopping_) return false;
    q_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> g(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id())
      t.detach();
    else
      t.join();
  }
}

bool ThreadPool::on_pool_thread() { return t_on_pool_thread; }

void ThreadPool::run() {
  t_on_pool_thread = true;
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> g(m_);
      cv_.wait(g, [this] { return stopping_ || !q_.empty(); });
      if (q_.empty()) return;  // stopping and drained
      job = std::move(q_.front());
      q_.pop_front();
    }
    job();
  }
}

unsigned hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

std::shared_ptr<ThreadPool> shared_pool() {
  std::lock_guard<std::mutex> g(registry_mutex());
  auto& slot = *registry_slot();
  if (!slot) slot = std::make_shared<ThreadPool>(g_configured ? g_configured : hardware_threads());
  return slot;
}

unsigned pool_size() { return shared_pool()->size(); }

void set_pool_size(unsigned n) {
  std::shared_ptr<ThreadPool> old;
  {
    std::lock_guard<std::mutex> g(registry_mutex());
    g_configured = n;
    auto& slot = *registry_slot();
    unsigned want = n ? n : hardware_threads();
    if (slot && slot->size() != want) old = std::move(slot);  // re-created lazily
  }
  // In-flight callers keep their own reference; the last one releases it.
  if (old) old->stop();
}

void shutdown_pool() {
  std::shared_ptr<ThreadPool> old;
  {
    std::lock_guard<std::mutex> g(registry_mutex());
    old = std::move(*registry_slot());
  }
  if (old) old->stop();
}

namespace {
// Shared between the caller and its helpers; helpers hold a reference so a
// helper that starts late never touches a finished call's stack.
struct ForState {
  std::mutex m;
  std::condition_variable cv;
  bool closed = false;
  unsigned active = 0;
  unsigned next_worker = 1;
  const std::function<void(unsigned)>* body = nullptr;
};
}  // namespace

void parallel_for(unsigned workers, const std::function<void(unsigned)>& body) {
  if (workers <= 1 || ThreadPool::on_pool_thread()) {
    body(0);
    return;
  }
  auto st = std::make_shared<ForState>();
  st->body = &body;
  auto pool = shared_pool();
  unsigned helpers = std::min(workers - 1, pool->size());
  for (unsigned i = 0; i < helpers; ++i) {
    bool ok = pool->submit([st] {
      unsigned idx;
      {
        std::lock_guard<std::mutex> g(st->m);
        if (st->closed) return;
        ++st->active;
        idx = st->next_worker++;
      }
      (*st->body)(idx);
      {
        std::lock_guard<std::mutex> g(st->m);
        --st->active;
      }
      st->cv.notify_all();
    });
    if (!ok) break;
  }
  body(0);
  std::unique_lock<std::mutex> g(st->m);
  st->closed = true;
  st->cv.wait(g, [&] { return st->active == 0; });
}

}  // namespace h5v::engine
