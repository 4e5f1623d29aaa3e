// JS bindings for attributes. Values cross as plain data: numeric payloads as
// ArrayBuffers in native byte order, strings as string[]; lib/attrs.ts turns
// them into numbers / bigints / typed arrays / strings.
#include <cstring>

#include "h5/attribute.h"
#include "h5/dataset.h"
#include "common/lock.h"
#include "wrap.h"

namespace h5v::js {

using h5::ErrorInfo;
using h5::Lock;

namespace {

Napi::Value AttrList(const Napi::CallbackInfo& info) {
  auto obj = unwrap_object(info, 0);
  JsOp op(info.Env(), obj->file);
  std::vector<std::string> names;
  call_locked(info.Env(), [&](ErrorInfo* err) { return h5::list_attrs(obj->id, &names, err); });
  Napi::Array a = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(i, names[i]);
  return a;
}

Napi::Value AttrHas(const Napi::CallbackInfo& info) {
  auto obj = unwrap_object(info, 0);
  JsOp op(info.Env(), obj->file);
  std::string name = arg_string(info, 1, "attribute name");
  Lock lock;
  return Napi::Boolean::New(info.Env(), h5::has_attr(obj->id, name));
}

// attrGet(obj, name) -> { dtype, scalar, shape, data: ArrayBuffer | string[] }
Napi::Value AttrGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = unwrap_object(info, 0);
  JsOp op(info.Env(), obj->file);
  std::string name = arg_string(info, 1, "attribute name");
  h5::AttrValue v;
  call_locked(
      env, [&](ErrorInfo* err) { return h5::read_attr(obj->id, name, &v, err); },
      [&](ErrorInfo& err) {
        if (err.code == "H5_NOT_FOUND") err.message = "no attribute '" + name + "' on '" + obj->path + "'";
      });
  Napi::Object r = Napi::Object::New(env);
  r.Set("dtype", h5::dtype_name(v.dtype));
  r.Set("scalar", v.scalar);
  r.Set("empty", v.null_space);
  Napi::Array shape = Napi::Array::New(env, v.shape.size());
  for (size_t i = 0; i < v.shape.size(); ++i) shape.Set(i, static_cast<double>(v.shape[i]));
  r.Set("shape", shape);
  if (v.dtype == h5::DType::String) {
    Napi::Array a = Napi::Array::New(env, v.strings.size());
    for (size_t i = 0; i < v.strings.size(); ++i) a.Set(i, text_value(env, v.strings[i]));
    r.Set("data", a);
  } else {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, v.bytes.size());
    if (!v.bytes.empty()) std::memcpy(ab.Data(), v.bytes.data(), v.bytes.size());
    r.Set("data", ab);
  }
  return r;
}

// attrSet(obj, name, dtype, shape|null, data: TypedArray | string[])
Napi::Value AttrSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = unwrap_object(info, 0);
  JsOp op(info.Env(), obj->file);
  std::string name = arg_string(info, 1, "attribute name");
  if (name.empty()) throw Napi::TypeError::New(env, "attribute name must not be empty");
  std::string dt = arg_string(info, 2, "dtype");
  h5::AttrValue v;
  v.dtype = h5::dtype_from_name(dt);
  if (v.dtype == h5::DType::Unsupported) throw Napi::TypeError::New(env, "unknown dtype '" + dt + "'");
  v.scalar = !(info.Length() > 3 && info[3].IsArray());
  size_t n = 1;
  if (!v.scalar) {
    auto a = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      double d = a.Get(i).ToNumber().DoubleValue();
      if (!(d >= 0) || d > 9007199254740991.0)
        throw Napi::RangeError::New(env, "attribute shape must be non-negative integers");
      v.shape.push_back(static_cast<hsize_t>(d));
    }
    // The element count, then n * item below, cannot wrap (a wrapped count
    // of 0 matched empty data and reached libhdf5 with the real extent).
    ErrorInfo err;
    if (!h5::check_extent(v.shape, h5::dtype_size(v.dtype), "cannot set attribute '" + name + "'", &err))
      throw_error(env, err);
    for (hsize_t d : v.shape) n *= static_cast<size_t>(d);
  }
  Napi::Value data = info.Length() > 4 ? info[4] : env.Undefined();
  if (v.dtype == h5::DType::String) {
    if (!data.IsArray()) throw Napi::TypeError::New(env, "string attribute data must be a string[]");
    auto a = data.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) v.strings.push_back(string_value(env, a.Get(i), "attribute value", i));
    if (v.strings.size() != n) throw Napi::RangeError::New(env, "string count does not match the attribute shape");
  } else {
    if (!data.IsTypedArray()) throw Napi::TypeError::New(env, "numeric attribute data must be a TypedArray");
    Bytes b = typed_array_bytes(env, data);
    if (b.size != n * h5::dtype_size(v.dtype))
      throw Napi::RangeError::New(env, "attribute data length does not match its shape and dtype");
    v.bytes.assign(b.data, b.data + b.size);
    if (v.dtype == h5::DType::Bool) {
      size_t bad = h5::first_invalid_bool(v.bytes.data(), v.bytes.size());
      if (bad != SIZE_MAX)
        throw_error(env, ErrorInfo::make("H5_INVALID_ARGUMENT",
                                         "bool attribute '" + name + "' element " + std::to_string(bad) + " is " +
                                             std::to_string(v.bytes[bad]) + ": bool data must be 0 or 1"));
    }
  }
  require_writable(env, obj->file);
  call_locked(env, [&](ErrorInfo* err) { return h5::write_attr(obj->id, name, v, err); });
  return env.Undefined();
}

Napi::Value AttrDelete(const Napi::CallbackInfo& info) {
  auto obj = unwrap_object(info, 0);
  JsOp op(info.Env(), obj->file);
  std::string name = arg_string(info, 1, "attribute name");
  require_writable(info.Env(), obj->file);
  call_locked(info.Env(), [&](ErrorInfo* err) { return h5::delete_attr(obj->id, name, err); });
  return info.Env().Undefined();
}

}  // namespace

void init_attrs(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"attrList", AttrList}, {"attrHas", AttrHas},       {"attrGet", AttrGet},
      {"attrSet", AttrSet},   {"attrDelete", AttrDelete},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
