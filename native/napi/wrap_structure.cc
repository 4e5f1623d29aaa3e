// JS bindings for native/h5/structure.h: links, object copies, resizable
// datasets, creation order, dimension scales and in-memory files. Metadata
// only: synchronous, each call inside an OpGuard (JsOp) and the global lock.
#include "wrap.h"

#include "common/lock.h"
#include "h5/structure.h"

namespace h5v::js {

using h5::ErrorInfo;
using h5::Lock;

namespace {

std::string arg_path(const Napi::CallbackInfo& info, size_t i, const char* what) {
  std::string p = arg_string(info, i, what);
  std::string why;
  if (!h5::valid_relative_path(p, &why)) throw Napi::TypeError::New(info.Env(), why);
  return p;
}

Napi::Value dims_to_js(Napi::Env env, const std::vector<hsize_t>& dims, bool unlimited_null) {
  Napi::Array a = Napi::Array::New(env, dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    if (unlimited_null && dims[i] == H5S_UNLIMITED)
      a.Set(i, env.Null());
    else
      a.Set(i, static_cast<double>(dims[i]));
  }
  return a;
}

unsigned arg_dim(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "dim must be an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<unsigned>(d)))
    throw Napi::RangeError::New(info.Env(), "dim must be a non-negative integer");
  return static_cast<unsigned>(d);
}

// linkCreate(group, type, name, target, file?)
Napi::Value LinkCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string type = arg_string(info, 1, "type");
  std::string name = arg_path(info, 2, "name");
  std::string target = arg_string(info, 3, "target");
  if (target.empty()) throw Napi::TypeError::New(env, "link target must not be empty");
  JsOp op(env, g->file);
  require_writable(env, g->file);
  call_locked(env, [&](ErrorInfo* err) {
    if (type == "soft") return h5::create_soft_link(g->id, target, name, err);
    if (type == "hard") {
      std::string why;
      if (!h5::valid_relative_path(target, &why)) throw Napi::TypeError::New(env, why);
      return h5::create_hard_link(g->id, target, name, err);
    }
    if (type == "external") {
      std::string file = arg_string(info, 4, "file");
      if (file.empty()) throw Napi::TypeError::New(env, "external link file must not be empty");
      return h5::create_external_link(g->id, file, target, name, err);
    }
    throw Napi::TypeError::New(env, "link type must be 'soft', 'hard' or 'external'");
  });
  return env.Undefined();
}

// One libhdf5 call under the global lock whose failure becomes the JS error;
// the call's own result is undefined.
template <typename Fn>
Napi::Value locked_call(Napi::Env env, Fn fn) {
  call_locked(env, fn);
  return env.Undefined();
}

Napi::Value LinkDelete(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string name = arg_path(info, 1, "name");
  JsOp op(info.Env(), g->file);
  require_writable(info.Env(), g->file);
  return locked_call(info.Env(), [&](ErrorInfo* err) { return h5::delete_link(g->id, name, err); });
}

Napi::Value LinkMove(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string from = arg_path(info, 1, "from");
  std::string to = arg_path(info, 2, "to");
  JsOp op(info.Env(), g->file);
  require_writable(info.Env(), g->file);
  return locked_call(info.Env(), [&](ErrorInfo* err) { return h5::move_link(g->id, from, to, err); });
}

// linkValue(group, name) -> { type, target?, file? }
Napi::Value LinkValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string name = arg_path(info, 1, "name");
  JsOp op(env, g->file);
  h5::LinkValue v;
  call_locked(env, [&](ErrorInfo* err) { return h5::link_value(g->id, name, &v, err); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", v.type);
  if (v.type != "hard") o.Set("target", v.target);
  if (v.type == "external") o.Set("file", v.file);
  return o;
}

// objCopy(srcGroup, src, dstGroup, dst): dstGroup may be in another file.
Napi::Value ObjCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string src_path = arg_path(info, 1, "source");
  auto dst = unwrap_kind(info, 2, h5::ObjKind::Group);
  std::string dst_path = arg_path(info, 3, "destination");
  JsOp op_src(env, src->file);
  JsOp op_dst(env, dst->file);
  require_writable(env, dst->file);
  return locked_call(env, [&](ErrorInfo* err) { return h5::copy_object(src->id, src_path, dst->id, dst_path, err); });
}

// datasetExtent(ds) -> { shape, maxshape } (null = unlimited)
Napi::Value DatasetExtent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  JsOp op(env, d->file);
  std::vector<hsize_t> dims, maxdims;
  call_locked(env, [&](ErrorInfo* err) { return h5::dataset_extent(d->id, &dims, &maxdims, err); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("shape", dims_to_js(env, dims, false));
  o.Set("maxshape", dims_to_js(env, maxdims, true));
  return o;
}

// datasetResize(ds, shape)
Napi::Value DatasetResize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "shape must be an array of integers");
  auto a = info[1].As<Napi::Array>();
  std::vector<hsize_t> shape;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    double v = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0) || v != static_cast<double>(static_cast<uint64_t>(v)) || v > 9007199254740991.0)
      throw Napi::TypeError::New(env, "shape must be an array of non-negative integers");
    shape.push_back(static_cast<hsize_t>(v));
  }
  JsOp op(env, d->file);
  require_writable(env, d->file);
  return locked_call(env, [&](ErrorInfo* err) { return h5::resize_dataset(d->id, d->path, shape, err); });
}

Napi::Value GroupTracksOrder(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  JsOp op(info.Env(), g->file);
  Lock lock;
  return Napi::Boolean::New(info.Env(), h5::tracks_order(g->id));
}

// dsInfo(ds) -> { isScale, scaleName, scales: [[{ path, name }]], labels }
Napi::Value DsInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  JsOp op(env, d->file);
  bool is_scale;
  std::string name;
  std::vector<std::vector<h5::ScaleRef>> scales;
  std::vector<std::string> labels;
  call_locked(env, [&](ErrorInfo* err) {
    is_scale = h5::is_scale(d->id);
    if (is_scale) h5::scale_name(d->id, &name);
    return h5::dimension_scales(d->id, &scales, err) && h5::dimension_labels(d->id, &labels, err);
  });
  Napi::Object o = Napi::Object::New(env);
  o.Set("isScale", is_scale);
  o.Set("scaleName", name);
  Napi::Array dims = Napi::Array::New(env, scales.size());
  for (size_t i = 0; i < scales.size(); ++i) {
    Napi::Array per = Napi::Array::New(env, scales[i].size());
    for (size_t k = 0; k < scales[i].size(); ++k) {
      Napi::Object s = Napi::Object::New(env);
      s.Set("path", scales[i][k].path);
      s.Set("name", scales[i][k].name);
      per.Set(k, s);
    }
    dims.Set(i, per);
  }
  o.Set("scales", dims);
  Napi::Array ls = Napi::Array::New(env, labels.size());
  for (size_t i = 0; i < labels.size(); ++i) ls.Set(i, labels[i]);
  o.Set("labels", ls);
  return o;
}

Napi::Value DsMakeScale(const Napi::CallbackInfo& info) {
  auto d = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  JsOp op(info.Env(), d->file);
  require_writable(info.Env(), d->file);
  return locked_call(info.Env(), [&](ErrorInfo* err) { return h5::make_scale(d->id, name, err); });
}

// Under the lock: false (err set) when the extent cannot be read; a
// RangeError to JS when `dim` is past the dataset's rank.
bool dim_in_range(Napi::Env env, const std::shared_ptr<h5::ObjHandle>& d, unsigned dim, ErrorInfo* err) {
  std::vector<hsize_t> dims, maxdims;
  if (!h5::dataset_extent(d->id, &dims, &maxdims, err)) return false;
  if (dim >= dims.size())
    throw Napi::RangeError::New(env, "dim " + std::to_string(dim) + " is out of range: '" + d->path + "' has rank " +
                                         std::to_string(dims.size()));
  return true;
}

// dsAttach(ds, scale, dim, attach: boolean)
Napi::Value DsAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  auto s = unwrap_kind(info, 1, h5::ObjKind::Dataset);
  unsigned dim = arg_dim(info, 2);
  bool attach = arg_bool(info, 3, "attach");
  if (s->file.get() != d->file.get())
    throw_error(env,
                ErrorInfo::make("H5_INVALID_ARGUMENT", "a dimension scale must be in the same file as its dataset"));
  JsOp op(env, d->file);
  require_writable(env, d->file);
  return locked_call(env, [&](ErrorInfo* err) {
    return dim_in_range(env, d, dim, err) &&
           (attach ? h5::attach_scale(d->id, s->id, dim, err) : h5::detach_scale(d->id, s->id, dim, err));
  });
}

Napi::Value DsSetLabel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = unwrap_kind(info, 0, h5::ObjKind::Dataset);
  unsigned dim = arg_dim(info, 1);
  std::string label = arg_string(info, 2, "label");
  JsOp op(env, d->file);
  require_writable(env, d->file);
  return locked_call(env, [&](ErrorInfo* err) {
    return dim_in_range(env, d, dim, err) && h5::set_dimension_label(d->id, dim, label, err);
  });
}

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

void init_structure(Napi::Env env, Napi::Object exports) {
  exports.Set("linkCreate", Napi::Function::New(env, LinkCreate));
  exports.Set("linkDelete", Napi::Function::New(env, LinkDelete));
  exports.Set("linkMove", Napi::Function::New(env, LinkMove));
  exports.Set("linkValue", Napi::Function::New(env, LinkValue));
  exports.Set("objCopy", Napi::Function::New(env, ObjCopy));
  exports.Set("datasetExtent", Napi::Function::New(env, DatasetExtent));
  exports.Set("datasetResize", Napi::Function::New(env, DatasetResize));
  exports.Set("groupTracksOrder", Napi::Function::New(env, GroupTracksOrder));
  exports.Set("dsInfo", Napi::Function::New(env, DsInfo));
  exports.Set("dsMakeScale", Napi::Function::New(env, DsMakeScale));
  exports.Set("dsAttach", Napi::Function::New(env, DsAttach));
  exports.Set("dsSetLabel", Napi::Function::New(env, DsSetLabel));
  exports.Set("fileOpenImage", Napi::Function::New(env, FileOpenImage));
  exports.Set("fileCreateInMemory", Napi::Function::New(env, FileCreateInMemory));
  exports.Set("fileImage", Napi::Function::New(env, FileImage));
  exports.Set("fileInMemory", Napi::Function::New(env, FileInMemory));
  exports.Set("fileRefuseExternal", Napi::Function::New(env, FileRefuseExternal));
}

}  // namespace h5v::js
