// adopt_buffer (wrap.h): read results handed to JS as external ArrayBuffers
// without a copy, and freed off the JS thread when they are large.
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "wrap.h"

namespace h5v::js {

namespace {

// Frees large result buffers on a background thread. The finalizer of an
// external ArrayBuffer runs on the JS thread, and free() of a big malloc'd
// region is an munmap of every populated page: measured 0.7-0.8 s stalls of
// the event loop when a 1 GiB read result was collected. Small buffers are
// freed inline (cheaper than a hand-off).
constexpr size_t kAsyncFreeBytes = size_t(16) << 20;

class Reaper {
 public:
  static void release(void* p) {
    static Reaper* r = new Reaper();  // never destroyed: may outlive static teardown
    {
      std::lock_guard<std::mutex> g(r->m_);
      r->queue_.push_back(p);
    }
    r->cv_.notify_one();
  }

 private:
  Reaper() {
    std::thread([this] {
      for (;;) {
        void* p;
        {
          std::unique_lock<std::mutex> g(m_);
          cv_.wait(g, [this] { return !queue_.empty(); });
          p = queue_.front();
          queue_.pop_front();
        }
        std::free(p);
      }
    }).detach();
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<void*> queue_;
};

}  // namespace

Napi::ArrayBuffer adopt_buffer(Napi::Env env, void* data, size_t bytes) {
  if (!data || bytes == 0) {
    std::free(data);
    return Napi::ArrayBuffer::New(env, 0);
  }
  // Who frees `data` must not depend on how the creation failed: Node 20
  // calls the finalizer of a buffer it refuses (too large) before returning,
  // but not of one it never began (a worker being terminated refuses every
  // call), which leaked the whole result. The finalizer frees only a buffer
  // that was created; on any failure this function frees it.
  struct Owned {
    void* p;
    bool big;
    bool created = false;
  };
  auto* owned = new Owned{data, bytes >= kAsyncFreeBytes};
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(
      env, data, bytes,
      [](napi_env, void*, void* hint) {
        auto* o = static_cast<Owned*>(hint);
        if (!o->created) return;  // the refused creation: adopt_buffer frees
        if (o->big)
          Reaper::release(o->p);
        else
          std::free(o->p);
        delete o;
      },
      owned, &ab);
  // No napi_adjust_external_memory here: V8 already counts external
  // ArrayBuffer backing stores toward GC pressure (measured: adding our own
  // report doubled the number of full GCs).
  if (st == napi_ok) {
    owned->created = true;
    return Napi::ArrayBuffer(env, ab);
  }
  delete owned;
  if (st != napi_no_external_buffers_allowed) {
    std::free(data);
    throw Napi::Error::New(env);  // the pending exception, if any (ERR_BUFFER_TOO_LARGE)
  }
  // Runtimes that forbid external buffers (Electron's memory cage): copy.
  Napi::ArrayBuffer copy;
  try {
    copy = Napi::ArrayBuffer::New(env, bytes);
  } catch (...) {
    std::free(data);
    throw;
  }
  std::memcpy(copy.Data(), data, bytes);
  std::free(data);
  return copy;
}

}  // namespace h5v::js
