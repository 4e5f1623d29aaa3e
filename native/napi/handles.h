// Type-tagged Externals for files and objects. A wrong or foreign value is a
// TypeError, never a crash; the External's finalizer drops our reference, so
// a leaked File/Dataset is released by GC.
#pragma once
#include <memory>

#include "h5/file.h"
#include "js.h"

namespace h5v::js {

Napi::Value wrap_file(Napi::Env env, std::shared_ptr<h5::FileHandle> f);
Napi::Value wrap_object(Napi::Env env, std::shared_ptr<h5::ObjHandle> o);
std::shared_ptr<h5::FileHandle> unwrap_file(const Napi::CallbackInfo& info, size_t i);
std::shared_ptr<h5::ObjHandle> unwrap_object(const Napi::CallbackInfo& info, size_t i);
// Like unwrap_object but also checks the kind (TypeError "expected a dataset").
std::shared_ptr<h5::ObjHandle> unwrap_kind(const Napi::CallbackInfo& info, size_t i, h5::ObjKind kind);

// Number of live wrapped handles (tests: leak checks).
size_t live_handles();

}  // namespace h5v::js
