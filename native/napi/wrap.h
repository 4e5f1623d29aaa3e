// Shared declarations of the binding's feature files (one init per file).
#pragma once
#include <chrono>
#include <thread>

#include "args.h"
#include "handles.h"
#include "js.h"
#include "js_error.h"
#include "worker.h"

namespace h5v::js {

// One function the addon exports: its JS name and its callback. Each feature
// file lists its exports in one table, `static const Export kExports[]`, and
// registers it with set_exports(); check:sources reads the table's
// {"name", Fn} rows and compares them with lib/addon/binding.ts's Native.
struct Export {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
template <size_t N>
void set_exports(Napi::Env env, Napi::Object exports, const Export (&table)[N]) {
  for (const Export& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn));
}

void init_file(Napi::Env env, Napi::Object exports);
void init_dataset(Napi::Env env, Napi::Object exports);
void init_view(Napi::Env env, Napi::Object exports);
void init_attrs(Napi::Env env, Napi::Object exports);
void init_untrusted(Napi::Env env, Napi::Object exports);
void init_mmap(Napi::Env env, Napi::Object exports);
void init_value(Napi::Env env, Napi::Object exports);

// A string read from a file as JS text: UTF-8 when it is valid UTF-8, else
// one code unit per byte (latin1), so no byte is replaced (docs/types.md).
Napi::Value text_value(Napi::Env env, const std::string& s);
void init_structure(Napi::Env env, Napi::Object exports);
void init_scales(Napi::Env env, Napi::Object exports);
void init_image(Napi::Env env, Napi::Object exports);
void init_remote(Napi::Env env, Napi::Object exports);
void init_model(Napi::Env env, Napi::Object exports);

// Brackets one synchronous call on a file (h5::OpGuard, so close() waits for
// it) and throws the H5_CLOSED error to JS when the file is already closed.
class JsOp {
 public:
  JsOp(Napi::Env env, std::shared_ptr<h5::FileHandle> f) : guard_(std::move(f), &err_) {
    if (!guard_.ok()) throw_error(env, err_);
  }

 private:
  h5::ErrorInfo err_;  // declared first: guard_ writes it while being constructed
  h5::OpGuard guard_;
};

// Adopts a malloc'd buffer as an external ArrayBuffer (freed by GC, reported
// to V8 as external memory); copies where external buffers are disallowed.
Napi::ArrayBuffer adopt_buffer(Napi::Env env, void* data, size_t bytes);

}  // namespace h5v::js
