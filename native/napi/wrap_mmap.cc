// JS bindings for mapping a whole file that libhdf5 does not open (formats
// h5vault reads itself, e.g. safetensors): the open, the regular-file check
// and mmap run on the libuv pool; the result is one external ArrayBuffer over
// a MAP_PRIVATE mapping that lives until that buffer is collected, with the
// same semantics as dataset views (docs/views.md).
#include "mapped_buffer.h"
#include "mmap/mapping.h"
#include "wrap.h"

namespace h5v::js {

namespace {

// The mapping as an external ArrayBuffer holding a reference on it
// (mapped_buffer.h: same accounting as dataset views).
Napi::Value mapping_to_js(Napi::Env env, const std::shared_ptr<mmap::Mapping>& m) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("size", static_cast<double>(m->size()));
  if (m->size() == 0) {
    r.Set("buffer", Napi::ArrayBuffer::New(env, 0));
    return r;
  }
  napi_value ab;
  napi_status st = mapped_arraybuffer(env, m, &ab);
  if (st != napi_ok) {
    h5::ErrorInfo e = h5::ErrorInfo::make(
        "H5_NOT_VIEWABLE", st == napi_no_external_buffers_allowed
                               ? "this runtime does not allow external ArrayBuffers: the file cannot be mapped"
                           : m->size() > kMaxExternalBuffer
                               ? "the file is larger than one ArrayBuffer can hold (4 GiB): view its datasets instead"
                               : "napi_create_external_arraybuffer failed");
    throw_error(env, e);
  }
  r.Set("buffer", Napi::ArrayBuffer(env, ab));
  return r;
}

// mapFile(path) -> Promise<{ buffer: ArrayBuffer, size: number }>
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  std::string path = arg_string(info, 0, "path");
  auto m = std::make_shared<std::shared_ptr<mmap::Mapping>>();
  return Job::Start(
      info.Env(), nullptr, [path, m](h5::ErrorInfo* err) { *m = mmap::Mapping::map_path(path, err); },
      [m](Napi::Env env) { return mapping_to_js(env, *m); });
}

}  // namespace

void init_mmap(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"mapFile", MapFile},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
