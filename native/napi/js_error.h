// ErrorInfo (plain data from any thread) -> JS error object (JS thread only).
// lib/errors.ts hands its H5Error class to the addon at load (setErrorClass),
// so native code throws the same class users catch, with code/major/minor.
#pragma once
#include "common/error.h"
#include "js.h"

#include <memory>
#include <utility>
#include <vector>

namespace h5v::js {

// Per-environment state (main thread and each worker have their own).
struct EnvData {
  Napi::FunctionReference error_class;
  // One ArrayBuffer over each file's whole mapping, held weakly: every view
  // is a typed array into it, so V8 accounts the mapping once, not per view.
  std::vector<std::pair<std::weak_ptr<void>, Napi::Reference<Napi::ArrayBuffer>>> map_buffers;
};
EnvData& env_data(Napi::Env env);

void set_error_class(Napi::Env env, Napi::Function cls);
Napi::Object make_error(Napi::Env env, const h5::ErrorInfo& e);
[[noreturn]] void throw_error(Napi::Env env, const h5::ErrorInfo& e);

// Argument helpers: throw TypeError with `what` in the message.
std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what);
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* what);

// A string value to store (an element of string data): UTF-8, refused with
// H5_INVALID_ARGUMENT if it holds a NUL, which HDF5 strings cannot keep.
std::string string_value(Napi::Env env, Napi::Value v, const char* what, size_t index);

// The bytes of a TypedArray, whether its buffer is an ArrayBuffer or a
// SharedArrayBuffer (Napi::TypedArray::ArrayBuffer() fails on the latter).
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};
Bytes typed_array_bytes(Napi::Env env, Napi::Value v);

}  // namespace h5v::js
