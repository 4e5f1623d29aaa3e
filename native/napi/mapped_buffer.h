// An external ArrayBuffer over a whole file mapping, holding a reference on
// the mapping until the buffer is collected. Shared by dataset views
// (wrap_dataset.cc) and whole-file mappings (wrap_mmap.cc).
#pragma once
#include <memory>

#include "js.h"
#include "mmap/mapping.h"

namespace h5v::js {

// Creates the buffer in *out. V8 counts every external ArrayBuffer as
// malloc-like memory and runs a full GC when that grows fast (mapping a 1 GiB
// file cost a 3 ms Mark-Compact per open), but a file mapping is page cache
// the kernel can drop, not memory a GC could free: the accounting is cancelled
// (-size before creating the buffer, +size back when it is finalized). On a
// status other than napi_ok nothing is created and the accounting is restored.
napi_status mapped_arraybuffer(napi_env env, const std::shared_ptr<mmap::Mapping>& m, napi_value* out);

}  // namespace h5v::js
