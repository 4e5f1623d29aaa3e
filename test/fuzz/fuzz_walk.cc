// libFuzzer harness for the untrusted-file metadata walk (native/h5/walk.h):
// arbitrary bytes are opened as an in-memory HDF5 image (core driver, no disk
// I/O) and walked with tight limits. Our code must never trip a sanitizer and
// must always return a report. libhdf5 itself is not instrumented and is
// known to crash on malformed files (that is why production walks run in a
// child process); such a crash stops this fuzzer with a stack inside
// libhdf5.so — see docs/security.md for what was found and how it is contained.
#include <cstdint>
#include <cstdlib>

#include "filters/register.h"
#include "common/error.h"
#include "common/lock.h"
#include "h5/walk.h"

namespace {

bool init() {
  h5v::h5::Lock lock;
  H5open();
  h5v::h5::silence_error_printing();
  // Same filter set as the addon, so pipelines resolve the same way.
  return h5v::filters::register_builtin_filters();
}

}  // namespace

// libhdf5 1.10.8 leaks small blocks on many malformed-file error paths (found
// by this fuzzer in its first seconds; harmless in the walk child, which
// exits). Suppress leaks allocated inside libhdf5 only, so leaks in our own
// code still fail the run.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ready = init();
  if (!ready) abort();
  h5v::h5::WalkLimits limits;
  // Small limits keep each input fast; the checks are the same at any size.
  limits.max_objects = 1000;
  limits.max_links = 10000;
  limits.max_attributes = 1000;
  limits.max_chunks = 4096;
  limits.max_dataset_bytes = uint64_t(64) << 20;
  limits.max_chunk_bytes = uint64_t(16) << 20;
  h5v::h5::WalkReport r = h5v::h5::walk_image(data, size, limits);
  // A report is either ok or carries a reason: never neither.
  if (!r.ok && r.reason.empty()) abort();
  if (r.ok && !r.reason.empty()) abort();
  return 0;
}
