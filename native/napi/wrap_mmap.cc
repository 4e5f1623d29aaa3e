// JS bindings for file I/O that libhdf5 does not do. mapFile maps a whole
// file (formats h5vault reads itself, e.g. safetensors): the open, the
// regular-file check and mmap run on the libuv pool; the result is one
// external ArrayBuffer over a MAP_PRIVATE mapping that lives until that buffer
// is collected, with the same semantics as dataset views (docs/views.md).
// copyRange copies bytes between two open files in the kernel (io/copy_range.h).
#include <cmath>

#include "io/copy_range.h"
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

// A non-negative integer argument below 2^53 (an fd, an offset, a length).
uint64_t arg_index(const Napi::CallbackInfo& info, size_t i, const char* what) {
  double d = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d))
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

// copyRange(srcFd, srcOffset, dstFd, dstOffset, length) -> Promise<void>, on the
// libuv pool. The caller keeps both descriptors open until it settles.
Napi::Value CopyRange(const Napi::CallbackInfo& info) {
  uint64_t src_fd = arg_index(info, 0, "srcFd"), dst_fd = arg_index(info, 2, "dstFd");
  if (src_fd > INT32_MAX || dst_fd > INT32_MAX) throw Napi::TypeError::New(info.Env(), "not a file descriptor");
  int src = static_cast<int>(src_fd), dst = static_cast<int>(dst_fd);
  uint64_t src_off = arg_index(info, 1, "srcOffset");
  uint64_t dst_off = arg_index(info, 3, "dstOffset");
  uint64_t len = arg_index(info, 4, "length");
  return Job::Start(
      info.Env(), nullptr, [=](h5::ErrorInfo* err) { io::copy_range(src, src_off, dst, dst_off, len, err); }, nullptr);
}

}  // namespace

void init_mmap(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"mapFile", MapFile},
      {"copyRange", CopyRange},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
