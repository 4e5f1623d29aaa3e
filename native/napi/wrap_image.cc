// JS bindings for in-memory files: open an image of a file's bytes (a
// sealed memfd read in place by the core driver), create a file in memory,
// copy out its bytes; and the flag that stops external links being followed.
#include <cstring>

#include "wrap.h"

#include "common/lock.h"
#include "h5/structure.h"

namespace h5v::js {

using h5::ErrorInfo;

namespace {

// fileOpenImage(bytes: Uint8Array, name) -> FileHandle (read-only)
Napi::Value FileOpenImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "image must be a Uint8Array or Buffer");
  Bytes b = typed_array_bytes(env, info[0]);
  std::string name = arg_string(info, 1, "name");
  auto f = call_locked(env, [&](ErrorInfo* err) { return h5::FileHandle::open_image(name, b.data, b.size, err); });
  return wrap_file(env, f);
}

// fileCreateInMemory(trackOrder) -> FileHandle (read-write)
Napi::Value FileCreateInMemory(const Napi::CallbackInfo& info) {
  bool track = arg_bool(info, 0, "trackOrder");
  auto f = call_locked(info.Env(), [&](ErrorInfo* err) { return h5::FileHandle::create_in_memory(track, err); });
  return wrap_file(info.Env(), f);
}

// fileImage(f) -> ArrayBuffer: the file's current bytes (a copy).
Napi::Value FileImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto f = unwrap_file(info, 0);
  JsOp op(env, f);
  std::vector<uint8_t> bytes;
  call_locked(env, [&](ErrorInfo* err) { return h5::file_image(f->id(), &bytes, err); });
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(ab.Data(), bytes.data(), bytes.size());
  return ab;
}

Napi::Value FileInMemory(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  return Napi::Boolean::New(info.Env(), f->in_memory());
}

Napi::Value FileRefuseExternal(const Napi::CallbackInfo& info) {
  unwrap_file(info, 0)->refuse_external = true;
  return info.Env().Undefined();
}

}  // namespace

void init_image(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"fileOpenImage", FileOpenImage}, {"fileCreateInMemory", FileCreateInMemory}, {"fileImage", FileImage},
      {"fileInMemory", FileInMemory},   {"fileRefuseExternal", FileRefuseExternal},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
