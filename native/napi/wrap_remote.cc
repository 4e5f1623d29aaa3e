// JS bindings for remote files: open an http(s) URL read-only through
// libhdf5's ROS3 driver, on the calling thread (fileOpenRemote, as fileOpen
// does) or on a pool thread (fileOpenRemoteAsync). lib/s3.ts points the URL at
// a block cache on a worker thread of its own, so libhdf5's requests never
// need the calling thread to answer them.
#include "h5/remote.h"
#include "wrap.h"

#include "common/lock.h"

namespace h5v::js {

namespace {

std::string opt_string(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return "";
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

h5::Ros3Credentials credentials(const Napi::CallbackInfo& info) {
  h5::Ros3Credentials cred;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    cred.authenticate = o.Get("authenticate").ToBoolean();
    cred.region = opt_string(o, "region");
    cred.key_id = opt_string(o, "keyId");
    cred.secret = opt_string(o, "secret");
  }
  return cred;
}

// fileOpenRemote(name, url, { authenticate, region, keyId, secret }?)
Napi::Value FileOpenRemote(const Napi::CallbackInfo& info) {
  std::string name = arg_string(info, 0, "name");
  std::string url = arg_string(info, 1, "url");
  h5::Ros3Credentials cred = credentials(info);
  auto f = call_locked(info.Env(), [&](h5::ErrorInfo* err) { return h5::open_ros3(name, url, cred, err); });
  return wrap_file(info.Env(), f);
}

// fileOpenRemoteAsync(...) -> Promise<FileHandle>: the same open on a pool
// thread, so the event loop does not wait for libhdf5's first requests.
Napi::Value FileOpenRemoteAsync(const Napi::CallbackInfo& info) {
  std::string name = arg_string(info, 0, "name");
  std::string url = arg_string(info, 1, "url");
  auto cred = std::make_shared<h5::Ros3Credentials>(credentials(info));
  auto out = std::make_shared<std::shared_ptr<h5::FileHandle>>();
  return Job::Start(
      info.Env(), nullptr,
      [name, url, cred, out](h5::ErrorInfo* err) {
        h5::Lock lock;
        *out = h5::open_ros3(name, url, *cred, err);
      },
      [out](Napi::Env env) { return wrap_file(env, *out); });
}

Napi::Value Ros3Available(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), h5::ros3_available());
}

}  // namespace

void init_remote(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"fileOpenRemote", FileOpenRemote},
      {"fileOpenRemoteAsync", FileOpenRemoteAsync},
      {"ros3Available", Ros3Available},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
