#include "mapped_buffer.h"

namespace h5v::js {

namespace {
struct Hint {
  std::shared_ptr<mmap::Mapping> mapping;
  // Set once Node has handed us the buffer. Node 20 calls the finalizer of a
  // buffer it refused to create (too large) before returning the error; that
  // early call must not free the hint we still own.
  bool created = false;
};

void finalize(napi_env, void*, void* h) {
  auto* hint = static_cast<Hint*>(h);
  if (!hint->created) return;  // the failed-creation call: the creator cleans up
  delete hint;
}
}  // namespace

napi_status mapped_window(napi_env env, const std::shared_ptr<mmap::Mapping>& m, uint64_t offset, uint64_t length,
                          napi_value* out) {
  if (length > kMaxExternalBuffer || offset > m->size() || length > m->size() - offset) return napi_invalid_arg;
  auto* hint = new Hint{m};
  napi_status st = napi_create_external_arraybuffer(env, static_cast<uint8_t*>(m->data()) + offset,
                                                    static_cast<size_t>(length), finalize, hint, out);
  if (st != napi_ok) {
    delete hint;
    return st;
  }
  hint->created = true;
  return st;
}

napi_status mapped_arraybuffer(napi_env env, const std::shared_ptr<mmap::Mapping>& m, napi_value* out) {
  return mapped_window(env, m, 0, m->size(), out);
}

}  // namespace h5v::js
