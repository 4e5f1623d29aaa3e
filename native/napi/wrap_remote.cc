// JS bindings for remote files: open one read-only through h5vault's range
// driver (h5/range_vfd.h), on the calling thread (fileOpenRemote, as fileOpen
// does) or on a pool thread (fileOpenRemoteAsync). lib/remote/lazy-file.ts
// points the URL at the block cache on a worker thread of its own, so
// libhdf5's requests never need the calling thread to answer them.
#include <cmath>

#include "h5/remote.h"
#include "wrap.h"

#include "common/lock.h"

namespace h5v::js {

namespace {

// { size, timeoutMs? }: size is the object's (the file's EOF), timeoutMs the
// longest wait for any progress of a request to the block cache.
h5::RangeOptions range_options(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[2].IsObject()) throw Napi::TypeError::New(env, "options { size } required");
  Napi::Object o = info[2].As<Napi::Object>();
  auto whole = [&](const char* key, double lo, double hi) {
    Napi::Value v = o.Get(key);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d >= lo && d <= hi) || std::floor(d) != d)
      throw Napi::RangeError::New(env, std::string(key) + " must be a whole number in [" + std::to_string(lo) + ", " +
                                           std::to_string(hi) + "]");
    return d;
  };
  h5::RangeOptions r;
  r.size = static_cast<uint64_t>(whole("size", 0, 9007199254740991.0));
  if (!o.Get("timeoutMs").IsUndefined()) r.timeout_ms = static_cast<uint32_t>(whole("timeoutMs", 1, 3600000));
  return r;
}

// fileOpenRemote(name, url, { size, timeoutMs? })
Napi::Value FileOpenRemote(const Napi::CallbackInfo& info) {
  std::string name = arg_string(info, 0, "name");
  std::string url = arg_string(info, 1, "url");
  h5::RangeOptions opt = range_options(info);
  auto f = call_locked(info.Env(), [&](h5::ErrorInfo* err) { return h5::open_range(name, url, opt, err); });
  return wrap_file(info.Env(), f);
}

// fileOpenRemoteAsync(...) -> Promise<FileHandle>: the same open on a pool
// thread, so the event loop does not wait for libhdf5's first requests.
Napi::Value FileOpenRemoteAsync(const Napi::CallbackInfo& info) {
  std::string name = arg_string(info, 0, "name");
  std::string url = arg_string(info, 1, "url");
  h5::RangeOptions opt = range_options(info);
  auto out = std::make_shared<std::shared_ptr<h5::FileHandle>>();
  return Job::Start(
      info.Env(), nullptr,
      [name, url, opt, out](h5::ErrorInfo* err) {
        h5::Lock lock;
        *out = h5::open_range(name, url, opt, err);
      },
      [out](Napi::Env env) { return wrap_file(env, *out); });
}

}  // namespace

void init_remote(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"fileOpenRemote", FileOpenRemote},
      {"fileOpenRemoteAsync", FileOpenRemoteAsync},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
