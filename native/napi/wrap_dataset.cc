// JS bindings for datasets: create, describe, read/write (sync and Promise),
// zero-copy views and prefetch. Reads and writes try the parallel engine for
// chunked data and fall back to libhdf5's serial path.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cstdlib>
#include <cstring>

#include "engine/engine.h"
#include "h5/dataset.h"
#include "h5/handle.h"
#include "h5/remote.h"
#include "common/lock.h"
#include "mmap/mapping.h"
#include "mapped_buffer.h"
#include "wrap.h"

namespace h5v::js {

using h5::DType;
using h5::ErrorInfo;
using h5::Lock;

namespace {

std::vector<hsize_t> dims_of(Napi::Env env, Napi::Value v, const char* what) {
  std::vector<hsize_t> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array of integers");
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be an array of integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) || d > 9007199254740991.0)
      throw Napi::RangeError::New(env, std::string(what) + " entries must be non-negative integers");
    out.push_back(static_cast<hsize_t>(d));
  }
  return out;
}

engine::Selection selection_of(Napi::Env env, Napi::Value v) {
  engine::Selection s;
  if (v.IsUndefined() || v.IsNull()) return s;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "selection must be an object { start, count, step? }");
  auto o = v.As<Napi::Object>();
  s.start = dims_of(env, o.Get("start"), "selection.start");
  s.count = dims_of(env, o.Get("count"), "selection.count");
  s.step = dims_of(env, o.Get("step"), "selection.step");
  return s;
}

// H5VAULT_ENGINE=0 routes every read/write through libhdf5's serial pipeline
// (for A/B benchmarks and for isolating engine bugs).
bool engine_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("H5VAULT_ENGINE");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

// Describe a dataset (lock taken here). In read-only files the metadata cannot
// change, so the first description is cached on the handle: views and reads of
// a model's tensors then cost no extra HDF5 metadata calls.
bool describe(const std::shared_ptr<h5::ObjHandle>& obj, h5::DatasetInfo* info, ErrorInfo* err) {
  Lock lock;
  if (obj->info_cache) {
    *info = *std::static_pointer_cast<h5::DatasetInfo>(obj->info_cache);
    return true;
  }
  if (!h5::describe_dataset(obj->id, info, err)) return false;
  if (!obj->file->writable()) obj->info_cache = std::make_shared<h5::DatasetInfo>(*info);
  return true;
}

bool check_readable(const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& info, ErrorInfo* err) {
  if (info.type.dtype == DType::Unsupported) {
    *err = ErrorInfo::make("H5_UNSUPPORTED_TYPE",
                           "dataset '" + obj->path + "' has an unsupported type (" + info.type.description + ")");
    return false;
  }
  if (info.layout == "virtual") {
    *err = ErrorInfo::make("H5_UNSUPPORTED", "dataset '" + obj->path + "' is a virtual dataset");
    return false;
  }
  return h5::check_filters(info, obj->path, err);
}

// A file opened read-only that someone truncated in place since: libhdf5
// reads past the end as zeros (silently wrong data), or fails on metadata it
// can no longer read, and a mapping faults (SIGBUS). fstat of libhdf5's own
// descriptor says how long the file is now. It must reach `end` (one past the
// bytes about to be read or touched) and libhdf5's end of allocated space
// (everything the file held when it was opened: chunk indexes, chunks, heaps).
// Writable files are skipped: there, space libhdf5 allocated may legitimately
// lie past the end of the file until it is written or flushed.
bool check_not_truncated(const std::shared_ptr<h5::FileHandle>& f, uint64_t end, const std::string& what,
                         ErrorInfo* err) {
  // An image's sealed memory file cannot shrink (and has no sec2 handle).
  if (f->writable() || f->in_memory()) return true;
  int fd = -1;
  {
    Lock lock;
    haddr_t eoa = 0;
    // Relative to the superblock: smaller than the physical size by the user
    // block, if any, so the check never refuses an intact file.
    if (H5Fget_eoa(f->id(), &eoa) >= 0 && eoa != HADDR_UNDEF) end = std::max<uint64_t>(end, eoa);
    fd = f->posix_fd();
    // No descriptor to ask (not the POSIX driver: a remote file, whose object
    // is pinned by its ETag instead): nothing to check.
    if (fd < 0) return true;
  }
  struct stat st;
  if (end == 0 || ::fstat(fd, &st) != 0) return true;
  if (static_cast<uint64_t>(st.st_size) >= end) return true;
  *err = ErrorInfo::make("H5_IO", what + " needs the first " + std::to_string(end) + " bytes of '" + f->path() +
                                      "', which is now " + std::to_string(st.st_size) +
                                      " bytes: the file was truncated after it was opened");
  return false;
}

// The end of a contiguous dataset's data in the file (0 when it has none).
uint64_t contiguous_end(const h5::DatasetInfo& info) {
  if (info.layout != "contiguous" || !info.allocated || info.offset == HADDR_UNDEF) return 0;
  return static_cast<uint64_t>(info.offset) + static_cast<uint64_t>(info.storage_size);
}

// Describes the dataset, checks it can be read or written and that `sel` fits
// it; *n is the number of selected elements. Shared by reads and writes.
bool prepare(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, h5::DatasetInfo* info, hsize_t* n,
             ErrorInfo* err) {
  std::vector<hsize_t> shape;
  return describe(obj, info, err) && check_readable(obj, *info, err) &&
         h5::selection_elements(*info, sel, n, &shape, err);
}

// Runs `op` (engine::read or engine::write) for chunked datasets. Returns true
// when the engine handled the call (done or failed, *err says which), false
// when the caller must use libhdf5's serial path instead.
template <typename Op>
bool try_engine(const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& info, unsigned threads,
                const std::atomic<bool>* cancel, ErrorInfo* err, Op op) {
  if (info.layout != "chunked" || !engine_enabled()) return false;
  h5::Hid mtype;
  {
    Lock lock;
    mtype.reset(h5::make_mem_type(info.type.dtype));
  }
  engine::Options opt;
  opt.threads = threads;
  opt.cancel = cancel;
  // Reads write every selected byte (zeros for chunks never stored), so
  // their buffer need not be zeroed first: neither a fresh one nor the
  // caller's own (read into).
  opt.fill_never_stored = true;
  engine::Result r = op(mtype.get(), opt);  // takes the lock itself, per HDF5 call
  Lock lock;
  mtype.reset();
  if (r != engine::Result::Unsupported) return true;
  *err = ErrorInfo();
  return false;
}

// Plain-data result of a read (filled off the JS thread). `data` is either
// ours (malloc'd, adopted by an ArrayBuffer) or the caller's memory (a read
// into an array the caller already has: `borrowed`, never freed here).
struct ReadResult {
  void* data = nullptr;
  size_t bytes = 0;
  bool borrowed = false;
  bool is_string = false;
  std::vector<std::string> strings;
  ~ReadResult() {
    if (!borrowed) std::free(data);
  }
};

// A new result buffer. Large ones are 2 MiB-aligned and advised for
// transparent huge pages: the first touch of fresh memory, not I/O or
// decoding, bounds a read into a new buffer (~3 us per 4 KiB page here;
// a 2 MiB page faults once). free() releases either kind.
void* alloc_result(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes < 2 * kHuge) return std::malloc(bytes);
  void* p = nullptr;
  size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  if (posix_memalign(&p, kHuge, rounded) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: THP off or unavailable is fine
#endif
  return p;
}

void do_read(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
             const std::atomic<bool>* cancel, ReadResult* out, ErrorInfo* err) {
  h5::DatasetInfo info;
  hsize_t n;
  if (!prepare(obj, sel, &info, &n, err)) return;
  // A dataset reached through an external link is in another file than
  // obj->file, whose size says nothing about it.
  if (!obj->foreign_file && !check_not_truncated(obj->file, contiguous_end(info), "dataset '" + obj->path + "'", err))
    return;
  if (info.type.dtype == DType::String) {
    if (out->borrowed) {
      *err = ErrorInfo::type_error("dataset '" + obj->path + "' holds strings: 'into' takes numeric datasets only");
      return;
    }
    out->is_string = true;
    Lock lock;
    h5::read_strings(obj->id, sel, &out->strings, err);
    return;
  }
  size_t esize = h5::dtype_size(info.type.dtype);
  const size_t want = static_cast<size_t>(n) * esize;
  if (out->borrowed) {
    if (out->bytes != want) {
      *err = ErrorInfo::range_error("'into' has " + std::to_string(out->bytes) + " bytes but the selection of '" +
                                    obj->path + "' needs " + std::to_string(want));
      return;
    }
  } else {
    out->bytes = want;
  }
  if (out->bytes == 0) return;
  if (!out->borrowed) {
    out->data = alloc_result(out->bytes);
    if (!out->data) {
      *err = ErrorInfo::range_error("cannot allocate " + std::to_string(out->bytes) + " bytes for '" + obj->path + "'");
      return;
    }
  }
  // The engine writes every selected byte (opt.fill_never_stored).
  if (try_engine(obj, info, threads, cancel, err, [&](hid_t mtype, const engine::Options& opt) {
        return engine::read(obj->id, mtype, sel, out->data, out->bytes, opt, err);
      }))
    return;
  // libhdf5 leaves elements the file never stored (unallocated storage, or
  // chunks never written, with fill time "never") untouched: they must read
  // as 0, never as what the buffer held. Only allocated contiguous/compact
  // data is certain to overwrite every byte, so only that skips the zeroing.
  const bool complete = info.allocated && info.layout != "chunked";
  if (!complete) std::memset(out->data, 0, out->bytes);
  Lock lock;
  if (!h5::read_numeric(obj->id, info.type.dtype, sel, out->data, err)) h5::name_missing_filters(info, obj->path, err);
}

Napi::Value result_to_js(Napi::Env env, ReadResult* r) {
  if (r->borrowed) return env.Undefined();  // the caller's array holds the result
  if (r->is_string) {
    Napi::Array a = Napi::Array::New(env, r->strings.size());
    for (size_t i = 0; i < r->strings.size(); ++i) a.Set(i, text_value(env, r->strings[i]));
    return a;
  }
  void* p = r->data;
  r->data = nullptr;
  return adopt_buffer(env, p, r->bytes);
}

// Plain-data input of a write (copied or pinned on the JS thread).
struct WriteInput {
  const void* data = nullptr;
  size_t bytes = 0;
  bool is_string = false;
  std::vector<std::string> strings;
};

WriteInput write_input(Napi::Env env, Napi::Value v) {
  WriteInput in;
  if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    in.is_string = true;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsString()) throw Napi::TypeError::New(env, "string data must be an array of strings");
      in.strings.push_back(string_value(env, e, "string data", i));
    }
    return in;
  }
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "data must be a TypedArray (or string[] for string datasets)");
  // A SharedArrayBuffer-backed array is written like any other: its bytes
  // as they are while the write runs (other threads writing it then race).
  Bytes b = typed_array_bytes(env, v);
  in.data = b.data;
  in.bytes = b.size;
  return in;
}

void do_write_data(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
                   const std::atomic<bool>* cancel, const WriteInput& in, ErrorInfo* err);

// A write that failed after it may have reached the file (an I/O error, not a
// bad argument or the caller's abort) leaves the file short of data.
void do_write(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
              const std::atomic<bool>* cancel, const WriteInput& in, ErrorInfo* err) {
  do_write_data(obj, sel, threads, cancel, in, err);
  if (err->kind == h5::ErrorKind::H5 && err->code != "H5_ABORTED" && err->code != "H5_READ_ONLY" &&
      err->code != "H5_CLOSED")
    obj->file->mark_write_failed();
}

void do_write_data(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
                   const std::atomic<bool>* cancel, const WriteInput& in, ErrorInfo* err) {
  if (!obj->file->writable()) {
    *err = read_only_error(*obj->file);
    return;
  }
  h5::DatasetInfo info;
  hsize_t n;
  if (!prepare(obj, sel, &info, &n, err)) return;
  if (info.type.dtype == DType::String) {
    if (!in.is_string) {
      *err = ErrorInfo::type_error("dataset '" + obj->path + "' holds strings: pass a string[]");
      return;
    }
    Lock lock;
    h5::write_strings(obj->id, sel, in.strings, err);
    return;
  }
  if (in.is_string) {
    *err = ErrorInfo::type_error("dataset '" + obj->path + "' is numeric: pass a TypedArray");
    return;
  }
  size_t want = static_cast<size_t>(n) * h5::dtype_size(info.type.dtype);
  if (in.bytes != want) {
    *err = ErrorInfo::range_error("data has " + std::to_string(in.bytes) + " bytes but the selection of '" + obj->path +
                                  "' needs " + std::to_string(want));
    return;
  }
  if (want == 0) return;
  if (info.type.dtype == DType::Bool) {
    size_t bad = h5::first_invalid_bool(static_cast<const uint8_t*>(in.data), in.bytes);
    if (bad != SIZE_MAX) {
      *err = ErrorInfo::make("H5_INVALID_ARGUMENT", "bool data for '" + obj->path + "' has " +
                                                        std::to_string(static_cast<const uint8_t*>(in.data)[bad]) +
                                                        " at element " + std::to_string(bad) +
                                                        ": bool data must be 0 or 1");
      return;
    }
  }
  if (try_engine(obj, info, threads, cancel, err, [&](hid_t mtype, const engine::Options& opt) {
        return engine::write(obj->id, mtype, sel, in.data, in.bytes, opt, err);
      }))
    return;
  Lock lock;
  h5::write_numeric(obj->id, info.type.dtype, sel, in.data, err);
}

unsigned threads_of(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) return 0;
  double d = info[i].As<Napi::Number>().DoubleValue();
  return d >= 1 && d <= 1024 ? static_cast<unsigned>(d) : 0;
}

// A cancellation flag owned jointly by JS (AbortSignal listener) and the job.
struct CancelFlag {
  std::atomic<bool> flag{false};
};
const napi_type_tag kCancelTag = {0x2f1e3d4c5b6a7988ULL, 0x7766554433221100ULL};

std::shared_ptr<CancelFlag> cancel_of(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsExternal()) return nullptr;
  auto ext = info[i].As<Napi::External<std::shared_ptr<CancelFlag>>>();
  if (!ext.CheckTypeTag(&kCancelTag)) throw Napi::TypeError::New(info.Env(), "expected a cancel token");
  return *ext.Data();
}

Napi::Value CancelToken(const Napi::CallbackInfo& info) {
  // unique_ptr until the External (and its finalizer) exists: a refused
  // creation (a terminating worker) must not leak the holder.
  auto h = std::make_unique<std::shared_ptr<CancelFlag>>(std::make_shared<CancelFlag>());
  auto ext = Napi::External<std::shared_ptr<CancelFlag>>::New(
      info.Env(), h.get(), [](Napi::Env, std::shared_ptr<CancelFlag>* p) { delete p; });
  h.release();
  ext.TypeTag(&kCancelTag);
  return ext;
}

Napi::Value CancelTrigger(const Napi::CallbackInfo& info) {
  auto c = cancel_of(info, 0);
  if (c) c->flag = true;
  return info.Env().Undefined();
}

// datasetCreate(group, name, spec) -> handle
Napi::Value DatasetCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto parent = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string name = arg_string(info, 1, "name");
  std::string why;
  if (!h5::valid_relative_path(name, &why)) throw Napi::TypeError::New(env, why);
  Napi::Object s = arg_object(info, 2, "spec");
  h5::CreateSpec spec;
  std::string dt = s.Get("dtype").IsString() ? s.Get("dtype").As<Napi::String>().Utf8Value() : "";
  spec.dtype = h5::dtype_from_name(dt);
  if (spec.dtype == DType::Unsupported) throw Napi::TypeError::New(env, "unknown dtype '" + dt + "'");
  spec.scalar = s.Get("scalar").ToBoolean();
  spec.shape = dims_of(env, s.Get("shape"), "shape");
  spec.chunks = dims_of(env, s.Get("chunks"), "chunks");
  // maxshape: null entries are unlimited dimensions.
  if (s.Get("maxshape").IsArray()) {
    auto m = s.Get("maxshape").As<Napi::Array>();
    for (uint32_t i = 0; i < m.Length(); ++i) {
      Napi::Value e = m.Get(i);
      if (e.IsNull())
        spec.maxshape.push_back(H5S_UNLIMITED);
      else {
        Napi::Array one = Napi::Array::New(env, 1);
        one.Set(0u, e);
        spec.maxshape.push_back(dims_of(env, one, "maxshape")[0]);
      }
    }
  }
  if (s.Get("compression").IsString()) spec.compression = s.Get("compression").As<Napi::String>().Utf8Value();
  if (s.Get("level").IsNumber()) spec.gzip_level = s.Get("level").As<Napi::Number>().Int32Value();
  if (s.Get("szipCoding").IsString()) spec.szip_ec = s.Get("szipCoding").As<Napi::String>().Utf8Value() == "ec";
  if (s.Get("szipPixelsPerBlock").IsNumber())
    spec.szip_ppb = s.Get("szipPixelsPerBlock").As<Napi::Number>().Uint32Value();
  if (s.Get("zstdLevel").IsNumber()) spec.zstd_level = s.Get("zstdLevel").As<Napi::Number>().Int32Value();
  if (s.Get("bloscLevel").IsNumber()) spec.blosc_level = s.Get("bloscLevel").As<Napi::Number>().Int32Value();
  if (s.Get("bloscShuffle").IsNumber()) spec.blosc_shuffle = s.Get("bloscShuffle").As<Napi::Number>().Uint32Value();
  if (s.Get("bloscCompressor").IsNumber())
    spec.blosc_compressor = s.Get("bloscCompressor").As<Napi::Number>().Uint32Value();
  if (s.Get("lz4BlockSize").IsNumber()) spec.lz4_block = s.Get("lz4BlockSize").As<Napi::Number>().Uint32Value();
  spec.shuffle = s.Get("shuffle").ToBoolean();
  spec.fletcher32 = s.Get("fletcher32").ToBoolean();

  JsOp op(env, parent->file);
  require_writable(env, parent->file);
  hid_t d = call_locked(env, [&](ErrorInfo* err) {
    require_absent(env, parent, name);
    return h5::create_dataset(parent->id, name, spec, err);
  });
  return wrap_object(
      env, std::make_shared<h5::ObjHandle>(parent->file, d, h5::ObjKind::Dataset, h5::join_path(parent->path, name)));
}

// A file read over HTTP (the ROS3 driver): it has no mapping, so no views
// and nothing to prefetch.
bool is_remote(const std::shared_ptr<h5::FileHandle>& f) {
  Lock lock;
  return f->remote();
}

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

Napi::Object info_to_js(Napi::Env env, const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dtype", h5::dtype_name(d.type.dtype));
  o.Set("typeDescription", d.type.description);
  o.Set("bigEndian", d.type.big_endian);
  o.Set("scalar", d.scalar);
  Napi::Array shape = Napi::Array::New(env, d.shape.size());
  for (size_t i = 0; i < d.shape.size(); ++i) shape.Set(i, static_cast<double>(d.shape[i]));
  o.Set("shape", shape);
  if (d.chunks.empty()) {
    o.Set("chunks", env.Null());
  } else {
    Napi::Array c = Napi::Array::New(env, d.chunks.size());
    for (size_t i = 0; i < d.chunks.size(); ++i) c.Set(i, static_cast<double>(d.chunks[i]));
    o.Set("chunks", c);
  }
  o.Set("layout", d.layout);
  Napi::Array fs = Napi::Array::New(env, d.filters.size());
  for (size_t i = 0; i < d.filters.size(); ++i) {
    Napi::Object f = Napi::Object::New(env);
    f.Set("id", d.filters[i].id);
    f.Set("name", d.filters[i].name);
    f.Set("optional", (d.filters[i].flags & H5Z_FLAG_OPTIONAL) != 0);
    f.Set("available", d.filters[i].available);
    Napi::Array cd = Napi::Array::New(env, d.filters[i].cd_values.size());
    for (size_t k = 0; k < d.filters[i].cd_values.size(); ++k) cd.Set(k, d.filters[i].cd_values[k]);
    f.Set("cdValues", cd);
    fs.Set(i, f);
  }
  o.Set("filters", fs);
  o.Set("storageSize", static_cast<double>(d.storage_size));
  o.Set("offset", d.offset == HADDR_UNDEF ? env.Null() : Napi::Number::New(env, static_cast<double>(d.offset)));
  o.Set("allocated", d.allocated);
  o.Set("external", d.external);
  o.Set("size", static_cast<double>(d.nelements));
  std::string why = view_reason(obj, d);
  o.Set("viewable",
        why.empty() ? Napi::Value(Napi::Boolean::New(env, true)) : Napi::Value(Napi::String::New(env, why)));
  return o;
}

Napi::Value DatasetInfo(const Napi::CallbackInfo& info) {
  auto obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  ErrorInfo err;
  JsOp op(info.Env(), obj->file);
  h5::DatasetInfo d;
  if (!describe(obj, &d, &err)) throw_error(info.Env(), err);
  return info_to_js(info.Env(), obj, d);
}

// A read into the caller's typed array (argument `i`, if given and not
// undefined): its bytes become the result's memory. The JS layer has checked
// that its element type is the dataset's; the size is checked in do_read.
void read_into(const Napi::CallbackInfo& info, size_t i, ReadResult* r) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return;
  Bytes b = typed_array_bytes(info.Env(), info[i]);
  r->data = const_cast<uint8_t*>(b.data);
  r->bytes = b.size;
  r->borrowed = true;
}

// datasetRead(ds, selection?, threads?, into?) -> ArrayBuffer | string[] | undefined (into)
Napi::Value DatasetRead(const Napi::CallbackInfo& info) {
  auto obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  engine::Selection sel = selection_of(info.Env(), info.Length() > 1 ? info[1] : info.Env().Undefined());
  unsigned threads = threads_of(info, 2);
  ErrorInfo err;
  JsOp op(info.Env(), obj->file);
  ReadResult r;
  read_into(info, 3, &r);
  do_read(obj, sel, threads, nullptr, &r, &err);
  if (!err.ok()) throw_error(info.Env(), err);
  return result_to_js(info.Env(), &r);
}

// datasetReadAsync(ds, selection?, threads?, cancelToken?, into?) -> Promise
// The `into` array is kept alive until the job settles; like fs.read's
// buffer, it must not be transferred or detached while the read runs.
Napi::Value DatasetReadAsync(const Napi::CallbackInfo& info) {
  auto obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  engine::Selection sel = selection_of(info.Env(), info.Length() > 1 ? info[1] : info.Env().Undefined());
  unsigned threads = threads_of(info, 2);
  auto cancel = cancel_of(info, 3);
  auto r = std::make_shared<ReadResult>();
  read_into(info, 4, r.get());
  std::vector<Napi::Value> keep;
  if (r->borrowed) keep.push_back(info[4]);
  return Job::Start(
      info.Env(), obj->file,
      [obj, sel, threads, cancel, r](ErrorInfo* err) {
        do_read(obj, sel, threads, cancel ? &cancel->flag : nullptr, r.get(), err);
      },
      [r](Napi::Env env) { return result_to_js(env, r.get()); }, std::move(keep));
}

Napi::Value DatasetWrite(const Napi::CallbackInfo& info) {
  auto obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  WriteInput in = write_input(info.Env(), info.Length() > 1 ? info[1] : info.Env().Undefined());
  engine::Selection sel = selection_of(info.Env(), info.Length() > 2 ? info[2] : info.Env().Undefined());
  unsigned threads = threads_of(info, 3);
  ErrorInfo err;
  JsOp op(info.Env(), obj->file);
  do_write(obj, sel, threads, nullptr, in, &err);
  if (!err.ok()) throw_error(info.Env(), err);
  return info.Env().Undefined();
}

Napi::Value DatasetWriteAsync(const Napi::CallbackInfo& info) {
  auto obj = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  Napi::Value data = info.Length() > 1 ? info[1] : info.Env().Undefined();
  auto in = std::make_shared<WriteInput>(write_input(info.Env(), data));
  engine::Selection sel = selection_of(info.Env(), info.Length() > 2 ? info[2] : info.Env().Undefined());
  unsigned threads = threads_of(info, 3);
  auto cancel = cancel_of(info, 4);
  return Job::Start(info.Env(), obj->file,
                    [obj, sel, threads, cancel, in](ErrorInfo* err) {
                      do_write(obj, sel, threads, cancel ? &cancel->flag : nullptr, *in, err);
                    },
                    nullptr, {data});
}

// The file's mapping, made on first use from libhdf5's own descriptor.
std::shared_ptr<mmap::Mapping> file_mapping(const std::shared_ptr<h5::FileHandle>& f, ErrorInfo* err) {
  Lock lock;
  if (f->mapping) return std::static_pointer_cast<mmap::Mapping>(f->mapping);
  if (f->in_memory()) {
    // An image: map its sealed memory file, privately like any file.
    auto m = f->image_fd() >= 0 ? mmap::Mapping::map_fd(f->image_fd(), f->path(), err) : nullptr;
    if (!m && err->ok())
      *err = ErrorInfo::make("H5_NOT_VIEWABLE", "'" + f->path() + "' is an in-memory file being written");
    if (m) f->mapping = m;
    return m;
  }
  // Only a local file opened with the POSIX driver has a descriptor to map;
  // a remote (ROS3) file's handle is not one.
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

// groupWalk(g) -> [{ path, kind, handle }] for every object below g
// (H5Ovisit order), opened by address and, for datasets, described — one call
// instead of a list + open + describe round trip per tensor. An object that
// cannot be opened or described is one { path, kind: 'error', error } entry
// (an H5Error), and a traversal libhdf5 stops part-way (a corrupt link table)
// ends with one for the group it was listing: the walk never fails whole for
// one bad object, and no failure is silent.
Napi::Value GroupWalk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  // groupWalk(g, datatypes?): committed datatypes are listed only when asked.
  bool datatypes = info.Length() > 1 && info[1].ToBoolean();
  ErrorInfo err;
  JsOp op(env, g->file);
  std::vector<h5::VisitEntry> entries;
  bool complete;
  {
    Lock lock;
    complete = h5::visit_objects(g->id, &entries, &err);
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  auto failed = [&](const std::string& path, const ErrorInfo& e) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("path", path);
    r.Set("kind", "error");
    r.Set("error", make_error(env, e));
    out.Set(k++, r);
  };
  for (const auto& e : entries) {
    if (e.kind != h5::ObjKind::Group && e.kind != h5::ObjKind::Dataset &&
        !(datatypes && e.kind == h5::ObjKind::Datatype))
      continue;
    const std::string path = h5::join_path(g->path, e.path);
    hid_t id;
    {
      Lock lock;
      id = h5::open_by_address(g->id, e.addr, &err);
    }
    if (id < 0) {
      failed(path, err);
      continue;
    }
    auto o = std::make_shared<h5::ObjHandle>(g->file, id, e.kind, path);
    if (e.kind == h5::ObjKind::Dataset) {
      // Describe now (cached natively for read-only files); JS asks for the
      // full description only if it needs it — building it is costly in napi.
      h5::DatasetInfo d;
      if (!describe(o, &d, &err)) {
        failed(path, err);
        continue;
      }
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("path", o->path);
    r.Set("kind", h5::obj_kind_name(e.kind));
    r.Set("handle", wrap_object(env, o));
    out.Set(k++, r);
  }
  if (!complete) {
    err.message = "listing stopped after " + std::to_string(entries.size()) + " objects: " + err.message;
    failed(g->path, err);
  }
  return out;
}

Napi::Value MappingStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mappings", static_cast<double>(mmap::Mapping::live_mappings()));
  o.Set("bytes", static_cast<double>(mmap::Mapping::live_bytes()));
  o.Set("handles", static_cast<double>(live_handles()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  engine::set_pool_size(threads_of(info, 0));
  return Napi::Number::New(info.Env(), engine::pool_size());
}

}  // namespace

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

void init_dataset(Napi::Env env, Napi::Object exports) {
  exports.Set("datasetCreate", Napi::Function::New(env, DatasetCreate));
  exports.Set("datasetInfo", Napi::Function::New(env, DatasetInfo));
  exports.Set("datasetRead", Napi::Function::New(env, DatasetRead));
  exports.Set("datasetReadAsync", Napi::Function::New(env, DatasetReadAsync));
  exports.Set("datasetWrite", Napi::Function::New(env, DatasetWrite));
  exports.Set("datasetWriteAsync", Napi::Function::New(env, DatasetWriteAsync));
  exports.Set("datasetView", Napi::Function::New(env, DatasetView));
  exports.Set("prefetch", Napi::Function::New(env, Prefetch));
  exports.Set("cancelToken", Napi::Function::New(env, CancelToken));
  exports.Set("cancelTrigger", Napi::Function::New(env, CancelTrigger));
  exports.Set("mappingStats", Napi::Function::New(env, MappingStats));
  exports.Set("groupWalk", Napi::Function::New(env, GroupWalk));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
}

}  // namespace h5v::js
