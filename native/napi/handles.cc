#include "handles.h"

#include <atomic>

namespace h5v::js {

namespace {
// Random 128-bit tags: napi_check_object_type_tag compares them.
constexpr napi_type_tag kFileTag = {0x8a3c1f5e2d4b6a79ULL, 0x1e2f3a4b5c6d7e8fULL};
constexpr napi_type_tag kObjTag = {0x5b7d9f1e3c2a4b6dULL, 0x9e8d7c6b5a4f3e2dULL};

std::atomic<size_t> g_live{0};

template <typename T>
Napi::Value wrap(Napi::Env env, std::shared_ptr<T> p, const napi_type_tag* tag) {
  auto* holder = new std::shared_ptr<T>(std::move(p));
  Napi::External<std::shared_ptr<T>> ext;
  try {
    ext = Napi::External<std::shared_ptr<T>>::New(env, holder, [](Napi::Env, std::shared_ptr<T>* h) {
      delete h;  // may close the object (takes the global lock briefly)
      g_live--;
    });
  } catch (...) {
    // No External, no finalizer (a worker being terminated refuses every
    // napi call): the reference is ours to drop, or the file stays open in
    // libhdf5 for the life of the process.
    delete holder;
    throw;
  }
  g_live++;
  ext.TypeTag(tag);  // if this fails, the External's finalizer still runs
  return ext;
}

template <typename T>
std::shared_ptr<T> unwrap(const Napi::CallbackInfo& info, size_t i, const napi_type_tag* tag, const char* what) {
  if (info.Length() <= i || !info[i].IsExternal())
    throw Napi::TypeError::New(info.Env(), std::string("expected a ") + what + " handle");
  auto ext = info[i].As<Napi::External<std::shared_ptr<T>>>();
  if (!ext.CheckTypeTag(tag)) throw Napi::TypeError::New(info.Env(), std::string("expected a ") + what + " handle");
  return *ext.Data();
}
}  // namespace

Napi::Value wrap_file(Napi::Env env, std::shared_ptr<h5::FileHandle> f) { return wrap(env, std::move(f), &kFileTag); }
Napi::Value wrap_object(Napi::Env env, std::shared_ptr<h5::ObjHandle> o) { return wrap(env, std::move(o), &kObjTag); }

std::shared_ptr<h5::FileHandle> unwrap_file(const Napi::CallbackInfo& info, size_t i) {
  return unwrap<h5::FileHandle>(info, i, &kFileTag, "file");
}

std::shared_ptr<h5::ObjHandle> unwrap_object(const Napi::CallbackInfo& info, size_t i) {
  return unwrap<h5::ObjHandle>(info, i, &kObjTag, "group or dataset");
}

std::shared_ptr<h5::ObjHandle> unwrap_kind(const Napi::CallbackInfo& info, size_t i, h5::ObjKind kind) {
  auto o = unwrap_object(info, i);
  if (o->kind != kind)
    throw Napi::TypeError::New(info.Env(),
                               kind == h5::ObjKind::Dataset ? "expected a dataset handle" : "expected a group handle");
  return o;
}

size_t live_handles() { return g_live.load(); }

}  // namespace h5v::js
