// JS bindings for zero-copy views of datasets into the file's mapping, the
// prefetch that faults mapped pages in off the event loop, and the live
// mapping counts tests use for leak checks.
#include "common/lock.h"
#include "dataset_io.h"
#include "mapped_buffer.h"
#include "mmap/mapping.h"
#include "wrap.h"

namespace h5v::js {

using h5::DType;
using h5::ErrorInfo;
using h5::Lock;

namespace {

// A file read over HTTP (the range driver, h5/range_vfd.h): it has no mapping, so no views
// and nothing to prefetch.
bool is_remote(const std::shared_ptr<h5::FileHandle>& f) {
  Lock lock;
  return f->remote();
}

// The file's mapping, made on first use from libhdf5's own descriptor.
std::shared_ptr<mmap::Mapping> file_mapping(const std::shared_ptr<h5::FileHandle>& f, ErrorInfo* err) {
  Lock lock;
  if (f->mapping) return f->mapping;
  if (f->in_memory()) {
    // An image: map its sealed memory file, privately like any file.
    auto m = f->image_fd() >= 0 ? mmap::Mapping::map_fd(f->image_fd(), f->path(), err) : nullptr;
    if (!m && err->ok())
      *err = ErrorInfo::make("H5_NOT_VIEWABLE", "'" + f->path() + "' is an in-memory file being written");
    if (m) f->mapping = m;
    return m;
  }
  // Only a local file opened with the POSIX driver has a descriptor to map;
  // a remote (range driver) file's handle is not one.
  int fd = f->posix_fd();
  if (fd < 0) {
    *err = ErrorInfo::make("H5_NOT_VIEWABLE", "'" + f->path() + "' is not a local file: nothing to map");
    return nullptr;
  }
  auto m = mmap::Mapping::map_fd(fd, f->path(), err);
  if (m) f->mapping = m;
  return m;
}

Napi::Value not_viewable(Napi::Env env, const std::string& path, const std::string& reason) {
  ErrorInfo e = ErrorInfo::make("H5_NOT_VIEWABLE", "dataset '" + path + "' cannot be viewed zero-copy: " + reason);
  Napi::Object o = make_error(env, e);
  o.Set("reason", reason);
  throw Napi::Error(env, o);
}

// The whole-file ArrayBuffer of this file's mapping for this environment,
// created on first use and cached weakly.
Napi::ArrayBuffer mapping_buffer(Napi::Env env, const std::shared_ptr<h5::ObjHandle>& obj,
                                 const std::shared_ptr<mmap::Mapping>& m) {
  auto& cache = env_data(env).map_buffers;
  std::weak_ptr<void> key = obj->file->mapping;
  for (auto it = cache.begin(); it != cache.end();) {
    if (it->first.expired() || it->second.Value().IsEmpty()) {
      it = cache.erase(it);  // file gone, or every view of it was collected
      continue;
    }
    if (!it->first.owner_before(key) && !key.owner_before(it->first)) return it->second.Value();
    ++it;
  }
  napi_value ab;
  napi_status st = mapped_arraybuffer(env, m, &ab);
  if (st != napi_ok) {
    if (st == napi_no_external_buffers_allowed) not_viewable(env, obj->path, "external-buffers-disallowed");
    throw Napi::Error::New(env, "napi_create_external_arraybuffer failed");
  }
  Napi::ArrayBuffer buf(env, ab);
  cache.emplace_back(key, Napi::Weak(buf));
  return buf;
}

// datasetView(ds) -> { buffer, offset }: buffer is the file mapping (no copy);
// the dataset's elements start at `offset`.
Napi::Value DatasetView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  ErrorInfo err;
  JsOp op(env, obj->file);
  h5::DatasetInfo d;
  if (!describe(obj, &d, &err)) throw_error(env, err);
  std::string why = view_reason(obj, d);
  if (!why.empty()) return not_viewable(env, obj->path, why);
  size_t bytes = static_cast<size_t>(d.nelements) * h5::dtype_size(d.type.dtype);
  Napi::Object r = Napi::Object::New(env);
  r.Set("dtype", h5::dtype_name(d.type.dtype));
  r.Set("length", static_cast<double>(d.nelements));
  if (bytes == 0) {
    r.Set("buffer", Napi::ArrayBuffer::New(env, 0));
    r.Set("offset", 0);
    return r;
  }
  // A view of bytes past the end of the file would die with SIGBUS on first
  // access: check the file's size now (a truncation after this call remains
  // out of reach, see docs/views.md).
  if (!check_not_truncated(obj->file, d.offset + bytes, "view of dataset '" + obj->path + "'", &err))
    throw_error(env, err);
  auto m = file_mapping(obj->file, &err);
  if (!m) throw_error(env, err);
  // The mapping was made when the file was shorter than the dataset's extent.
  if (!m->contains(d.offset, bytes)) return not_viewable(env, obj->path, "truncated");
  if (m->size() <= kMaxExternalBuffer) {
    r.Set("buffer", mapping_buffer(env, obj, m));
    r.Set("offset", static_cast<double>(d.offset));
    return r;
  }
  // A file too big for one ArrayBuffer: this view gets its own window of the
  // same mapping, starting on a page boundary (so the element alignment of the
  // offset is the same as in the file).
  const uint64_t start = d.offset & ~uint64_t{4095};
  napi_value ab;
  napi_status st = mapped_window(env, m, start, d.offset + bytes - start, &ab);
  if (st == napi_no_external_buffers_allowed) return not_viewable(env, obj->path, "external-buffers-disallowed");
  if (st != napi_ok) throw Napi::Error::New(env, "napi_create_external_arraybuffer failed");
  r.Set("buffer", Napi::ArrayBuffer(env, ab));
  r.Set("offset", static_cast<double>(d.offset - start));
  return r;
}

// datasetPrefetch(ds | file) -> Promise: faults the mapped pages in off the event loop.
Napi::Value Prefetch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<h5::FileHandle> f;
  std::shared_ptr<h5::ObjHandle> obj;
  if (info.Length() > 1 && info[1].ToBoolean()) {
    f = unwrap_file(info, 0);
  } else {
    obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
    f = obj->file;
  }
  return Job::Start(
      env, f,
      [f, obj](ErrorInfo* err) {
        uint64_t off = 0, len = 0;
        if (obj) {
          h5::DatasetInfo d;
          if (!describe(obj, &d, err)) return;
          if (!view_reason(obj, d).empty() || d.nelements == 0) return;  // nothing mapped to prefetch
          off = d.offset;
          len = d.nelements * h5::dtype_size(d.type.dtype);
        }
        if (f->writable() || is_remote(f)) return;  // nothing mapped: a remote file is read on demand
        auto m = file_mapping(f, err);
        if (!m) return;
        if (!obj) len = m->size();
        // Touching a mapped page past the end of the file raises SIGBUS.
        if (!check_not_truncated(f, off + len,
                                 obj ? "prefetch of dataset '" + obj->path + "'" : std::string("prefetch"), err))
          return;
        m->prefetch(off, len);
      },
      nullptr);
}

Napi::Value MappingStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mappings", static_cast<double>(mmap::Mapping::live_mappings()));
  o.Set("bytes", static_cast<double>(mmap::Mapping::live_bytes()));
  o.Set("handles", static_cast<double>(live_handles()));
  return o;
}

}  // namespace

std::string view_reason(const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& info) {
  // Its bytes are in another file than the one whose mapping views use.
  if (obj->foreign_file) return "external-link";
  if (obj->file->writable()) return "read-write-file";
  if (info.type.dtype == DType::Unsupported || info.type.dtype == DType::String) return "unsupported-type";
  if (info.layout == "compact") return "compact";
  if (info.layout == "virtual") return "external";
  if (info.layout == "chunked") return info.filters.empty() ? "chunked" : "filtered";
  if (info.external) return "external";
  if (info.type.big_endian) return "big-endian";
  if (info.nelements == 0) return "";
  if (!info.allocated || info.offset == HADDR_UNDEF) return "not-allocated";
  if (info.offset % h5::dtype_size(info.type.dtype) != 0) return "unaligned";
  // No ArrayBuffer (hence no typed array) can span it on every supported Node.
  if (info.nelements * h5::dtype_size(info.type.dtype) > kMaxExternalBuffer) return "too-large";
  // Last: a dataset that could be mapped if the file were local.
  if (is_remote(obj->file)) return "remote";
  return "";
}

void init_view(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"datasetView", DatasetView},
      {"prefetch", Prefetch},
      {"mappingStats", MappingStats},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
