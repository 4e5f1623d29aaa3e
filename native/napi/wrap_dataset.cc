// JS bindings for datasets: create, describe, read/write (sync and Promise)
// and the cancel tokens of async reads and writes. The reads and writes
// themselves are dataset_io.cc; views and prefetch are wrap_view.cc.
#include <atomic>

#include "dataset_io.h"
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
  if (s.Get("bitshuffleBlockSize").IsNumber())
    spec.bitshuffle_block = s.Get("bitshuffleBlockSize").As<Napi::Number>().Uint32Value();
  if (s.Get("bitshuffleCompression").IsNumber())
    spec.bitshuffle_compression = s.Get("bitshuffleCompression").As<Napi::Number>().Uint32Value();
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

}  // namespace

unsigned threads_of(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) return 0;
  double d = info[i].As<Napi::Number>().DoubleValue();
  return d >= 1 && d <= 1024 ? static_cast<unsigned>(d) : 0;
}

void init_dataset(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"datasetCreate", DatasetCreate}, {"datasetInfo", DatasetInfo},
      {"datasetRead", DatasetRead},     {"datasetReadAsync", DatasetReadAsync},
      {"datasetWrite", DatasetWrite},   {"datasetWriteAsync", DatasetWriteAsync},
      {"cancelToken", CancelToken},     {"cancelTrigger", CancelTrigger},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
