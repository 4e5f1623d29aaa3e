// JS bindings for native/h5/structure.h: links, object copies, resizable
// datasets and creation order (dimension scales: wrap_scales.cc; in-memory
// files: wrap_image.cc). Metadata
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

Napi::Value LinkDelete(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string name = arg_path(info, 1, "name");
  JsOp op(info.Env(), g->file);
  require_writable(info.Env(), g->file);
  return call_locked_undefined(info.Env(), [&](ErrorInfo* err) { return h5::delete_link(g->id, name, err); });
}

Napi::Value LinkMove(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string from = arg_path(info, 1, "from");
  std::string to = arg_path(info, 2, "to");
  JsOp op(info.Env(), g->file);
  require_writable(info.Env(), g->file);
  return call_locked_undefined(info.Env(), [&](ErrorInfo* err) { return h5::move_link(g->id, from, to, err); });
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
  return call_locked_undefined(
      env, [&](ErrorInfo* err) { return h5::copy_object(src->id, src_path, dst->id, dst_path, err); });
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
  return call_locked_undefined(env, [&](ErrorInfo* err) { return h5::resize_dataset(d->id, d->path, shape, err); });
}

Napi::Value GroupTracksOrder(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  JsOp op(info.Env(), g->file);
  Lock lock;
  return Napi::Boolean::New(info.Env(), h5::tracks_order(g->id));
}

}  // namespace

void init_structure(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"linkCreate", LinkCreate},
      {"linkDelete", LinkDelete},
      {"linkMove", LinkMove},
      {"linkValue", LinkValue},
      {"objCopy", ObjCopy},
      {"datasetExtent", DatasetExtent},
      {"datasetResize", DatasetResize},
      {"groupTracksOrder", GroupTracksOrder},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
