#include "mapped_buffer.h"

namespace h5v::js {

namespace {
struct Hint {
  std::shared_ptr<mmap::Mapping> mapping;
};
}  // namespace

napi_status mapped_arraybuffer(napi_env env, const std::shared_ptr<mmap::Mapping>& m, napi_value* out) {
  auto* hint = new Hint{m};
  const int64_t size = static_cast<int64_t>(m->size());
  int64_t adjusted;
  napi_adjust_external_memory(env, -size, &adjusted);
  napi_status st = napi_create_external_arraybuffer(
      env, m->data(), m->size(),
      [](napi_env e, void*, void* h) {
        auto* hh = static_cast<Hint*>(h);
        int64_t adj;
        napi_adjust_external_memory(e, static_cast<int64_t>(hh->mapping->size()), &adj);
        delete hh;
      },
      hint, out);
  if (st != napi_ok) {
    napi_adjust_external_memory(env, size, &adjusted);
    delete hint;
  }
  return st;
}

}  // namespace h5v::js
