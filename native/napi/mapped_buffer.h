// External ArrayBuffers over a file mapping, each holding a reference on the
// mapping until it is collected. Shared by dataset views (wrap_view.cc) and
// whole-file mappings (wrap_mmap.cc).
#pragma once
#include <cstdint>
#include <memory>

#include "js.h"
#include "mmap/mapping.h"

namespace h5v::js {

// The largest external ArrayBuffer every supported Node accepts: Node 20 refuses
// more than 2^32 bytes (ERR_BUFFER_TOO_LARGE) and, when it does, calls the
// finalizer of the buffer it did not create. Larger files are viewed through
// windows (one buffer per view) instead of one whole-file buffer.
constexpr uint64_t kMaxExternalBuffer = uint64_t{1} << 32;

// Creates a buffer over the whole mapping in *out. V8 counts it as external
// memory (a file mapping is page cache, not memory a GC could free, so this
// can cost a Mark-Compact when large files are mapped), and that accounting is
// left alone: cancelling it (-size here, +size in the finalizer) aborted
// Node 24 and 26 at exit, whose V8 checks that detaching a buffer never takes
// the external-memory counter below zero ("Check failed: amount_before >=
// -delta" when the environment detaches live buffers). On a status other than
// napi_ok nothing is created; a mapping over kMaxExternalBuffer gives
// napi_invalid_arg without calling Node.
napi_status mapped_arraybuffer(napi_env env, const std::shared_ptr<mmap::Mapping>& m, napi_value* out);

// The same over bytes [offset, offset + length) of the mapping (the caller
// checks the range is inside it).
napi_status mapped_window(napi_env env, const std::shared_ptr<mmap::Mapping>& m, uint64_t offset, uint64_t length,
                          napi_value* out);

}  // namespace h5v::js
