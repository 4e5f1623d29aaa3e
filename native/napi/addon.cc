// Module entry: initialises libhdf5 once (silenced error printing, built-in
// filters), registers the feature files' functions, and shuts the engine's
// thread pool down when the last environment (main thread or worker) exits.
#include <atomic>

#include "engine/engine.h"
#include "filters/register.h"
#include "common/error.h"
#include "h5/file.h"
#include "h5/heap_check.h"
#include "common/lock.h"
#include "dataset_io.h"
#include "wrap.h"

namespace h5v::js {

namespace {

std::atomic<int> g_envs{0};

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "expected a class");
  set_error_class(info.Env(), info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("hdf5", h5::libhdf5_version());
  hbool_t ts = 0;
  H5is_library_threadsafe(&ts);
  o.Set("threadsafe", static_cast<bool>(ts));
  o.Set("threads", engine::pool_size());
  return o;
}

// setThreads(n) -> the engine pool's size: process-wide, shared by every
// environment (main thread and workers).
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  engine::set_pool_size(threads_of(info, 0));
  return Napi::Number::New(info.Env(), engine::pool_size());
}

void on_env_exit(void*) {
  // Files still open in this environment are closed by their handles'
  // finalizers; the shared pool goes with the last environment.
  if (--g_envs == 0) engine::shutdown_pool();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  {
    h5::Lock lock;
    static bool initialised = [] {
      H5open();
      h5::silence_error_printing();
      return h5v::filters::register_builtin_filters() && h5::install_heap_checks();
    }();
    if (!initialised)
      throw Napi::Error::New(env, "h5vault: registering the LZF/LZ4 filters or the heap-ID checks with libhdf5 failed");
    // Error printing is per-thread state in a threadsafe libhdf5: silence it
    // for this thread too (workers call silence on their own threads).
    h5::silence_error_printing();
  }
  g_envs++;
  napi_add_env_cleanup_hook(env, on_env_exit, nullptr);
  static const Export kExports[] = {
      {"setErrorClass", SetErrorClass},
      {"versions", Versions},
      {"setThreads", SetThreads},
  };
  set_exports(env, exports, kExports);
  init_file(env, exports);
  init_dataset(env, exports);
  init_view(env, exports);
  init_attrs(env, exports);
  init_value(env, exports);
  init_untrusted(env, exports);
  init_mmap(env, exports);
  init_structure(env, exports);
  init_scales(env, exports);
  init_image(env, exports);
  init_remote(env, exports);
  init_model(env, exports);
  return exports;
}

}  // namespace h5v::js

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return h5v::js::Init(env, exports); }

NODE_API_MODULE(h5vault, InitModule)
