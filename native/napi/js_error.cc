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
  return info[i].As<Napi::String>().Utf8Value();
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
