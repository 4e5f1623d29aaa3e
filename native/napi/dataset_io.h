// Dataset reads and writes as plain work that reports into an ErrorInfo, so
// the same code runs on the JS thread (datasetRead/Write) and as a pool job
// (the Async variants); views and the group walk describe datasets through
// it too. Each function takes the global lock itself, around its HDF5 calls
// only: codec work and copying run unlocked.
#pragma once
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "h5/dataset.h"
#include "h5/file.h"
#include "js.h"

namespace h5v::js {

// Describes a dataset, cached on the handle in read-only files (their
// metadata cannot change): views and reads of a model's tensors then cost no
// extra HDF5 metadata calls.
bool describe(const std::shared_ptr<h5::ObjHandle>& obj, h5::DatasetInfo* info, h5::ErrorInfo* err);

// H5_IO when the read-only file `f` is now shorter than `end` bytes or than
// libhdf5's end of allocated space (someone truncated it after it was opened).
bool check_not_truncated(const std::shared_ptr<h5::FileHandle>& f, uint64_t end, const std::string& what,
                         h5::ErrorInfo* err);

// Plain-data result of a read (filled off the JS thread). `data` is either
// ours (malloc'd, adopted by an ArrayBuffer) or the caller's memory (a read
// into an array the caller already has: `borrowed`, never freed here).
struct ReadResult {
  void* data = nullptr;
  size_t bytes = 0;
  bool borrowed = false;
  bool is_string = false;
  std::vector<std::string> strings;
  ~ReadResult() {
    if (!borrowed) std::free(data);
  }
};

void do_read(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
             const std::atomic<bool>* cancel, ReadResult* out, h5::ErrorInfo* err);

// Plain-data input of a write (copied or pinned on the JS thread).
struct WriteInput {
  const void* data = nullptr;
  size_t bytes = 0;
  bool is_string = false;
  std::vector<std::string> strings;
};

// A write that failed after it may have reached the file (an I/O error, not a
// bad argument or the caller's abort) leaves the file short of data.
void do_write(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
              const std::atomic<bool>* cancel, const WriteInput& in, h5::ErrorInfo* err);

// The `threads` argument at `i`: 1..1024, else 0 (the engine's default).
unsigned threads_of(const Napi::CallbackInfo& info, size_t i);

// Why a dataset cannot be viewed zero-copy ("" when it can): the `viewable`
// of its description and the reason of H5_NOT_VIEWABLE (docs/views.md).
std::string view_reason(const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& info);

}  // namespace h5v::js
