#include "js_error.h"

namespace h5v::js {

EnvData& env_data(Napi::Env env) {
  auto* data = env.GetInstanceData<EnvData>();
  if (!data) {
    data = new EnvData();
    env.SetInstanceData<EnvData>(data);
  }
  return *data;
}

void set_error_class(Napi::Env env, Napi::Function cls) { env_data(env).error_class = Napi::Persistent(cls); }

Napi::Object make_error(Napi::Env env, const h5::ErrorInfo& e) {
  if (e.kind == h5::ErrorKind::Type) return Napi::TypeError::New(env, e.message).Value();
  if (e.kind == h5::ErrorKind::Range) return Napi::RangeError::New(env, e.message).Value();
  auto* data = env.GetInstanceData<EnvData>();
  if (data && !data->error_class.IsEmpty()) {
    Napi::Object details = Napi::Object::New(env);
    details.Set("code", e.code);
    details.Set("major", e.major);
    details.Set("minor", e.minor);
    return data->error_class.New({Napi::String::New(env, e.message), details});
  }
  Napi::Object err = Napi::Error::New(env, e.message).Value();
  err.Set("code", e.code);
  err.Set("major", e.major);
  err.Set("minor", e.minor);
  return err;
}

void throw_error(Napi::Env env, const h5::ErrorInfo& e) { throw Napi::Error(env, make_error(env, e)); }

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  size_t nul = s.find('\0');
  // Every string argument becomes a C string for libhdf5 (a path, a name, a
  // dtype): an embedded NUL would silently cut it short and address another
  // object, so it is refused here, for all of them at once.
  if (nul != std::string::npos)
    throw_error(info.Env(),
                h5::ErrorInfo::make("H5_INVALID_ARGUMENT", std::string(what) + " contains a NUL character (at byte " +
                                                               std::to_string(nul) + ")"));
  return s;
}

std::string string_value(Napi::Env env, Napi::Value v, const char* what, size_t index) {
  std::string s = v.ToString().Utf8Value();
  size_t nul = s.find('\0');
  // libhdf5 takes C strings (variable-length) or NUL-padded fields
  // (fixed-length): either way a NUL ends the string, and the rest is lost.
  if (nul != std::string::npos)
    throw_error(
        env, h5::ErrorInfo::make("H5_INVALID_ARGUMENT", std::string(what) + " [" + std::to_string(index) +
                                                            "] contains a NUL character (at byte " +
                                                            std::to_string(nul) + "); HDF5 strings cannot hold one"));
  return s;
}

Bytes typed_array_bytes(Napi::Env env, Napi::Value v) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok)
    throw Napi::TypeError::New(env, "expected a TypedArray");
  Bytes b;
  b.data = static_cast<const uint8_t*>(data);
  b.size = v.As<Napi::TypedArray>().ByteLength();
  return b;
}

bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBoolean())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

}  // namespace h5v::js
