// JS bindings for dimension scales (libhdf5_hl's H5DS through
// native/h5/structure.h): describe, make, attach/detach, label. Metadata
// only: synchronous, each call inside an OpGuard (JsOp) and the global lock.
#include "wrap.h"

#include "common/lock.h"
#include "h5/structure.h"

namespace h5v::js {

using h5::ErrorInfo;

namespace {

unsigned arg_dim(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "dim must be an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<unsigned>(d)))
    throw Napi::RangeError::New(info.Env(), "dim must be a non-negative integer");
  return static_cast<unsigned>(d);
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
  return call_locked_undefined(info.Env(), [&](ErrorInfo* err) { return h5::make_scale(d->id, name, err); });
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
  return call_locked_undefined(env, [&](ErrorInfo* err) {
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
  return call_locked_undefined(env, [&](ErrorInfo* err) {
    return dim_in_range(env, d, dim, err) && h5::set_dimension_label(d->id, dim, label, err);
  });
}

}  // namespace

void init_scales(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"dsInfo", DsInfo},
      {"dsMakeScale", DsMakeScale},
      {"dsAttach", DsAttach},
      {"dsSetLabel", DsSetLabel},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
