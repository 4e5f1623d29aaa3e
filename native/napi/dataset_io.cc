// Dataset reads and writes (dataset_io.h): the checks a read or write makes
// before touching data, the parallel engine for chunked data and libhdf5's
// serial path for everything else.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/lock.h"
#include "args.h"
#include "dataset_io.h"
#include "common/hid.h"

namespace h5v::js {

using h5::DType;
using h5::ErrorInfo;
using h5::Lock;

namespace {

// H5VAULT_ENGINE=0 routes every read/write through libhdf5's serial pipeline
// (for A/B benchmarks and for isolating engine bugs).
bool engine_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("H5VAULT_ENGINE");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

bool check_readable(const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& info, ErrorInfo* err) {
  if (info.type.dtype == DType::Unsupported) {
    *err = ErrorInfo::make("H5_UNSUPPORTED_TYPE",
                           "dataset '" + obj->path + "' has an unsupported type (" + info.type.description + ")");
    return false;
  }
  if (info.layout == "virtual") {
    *err = ErrorInfo::make("H5_UNSUPPORTED", "dataset '" + obj->path + "' is a virtual dataset");
    return false;
  }
  return h5::check_filters(info, obj->path, err);
}

// The end of a contiguous dataset's data in the file (0 when it has none).
uint64_t contiguous_end(const h5::DatasetInfo& info) {
  if (info.layout != "contiguous" || !info.allocated || info.offset == HADDR_UNDEF) return 0;
  return static_cast<uint64_t>(info.offset) + static_cast<uint64_t>(info.storage_size);
}

// Runs `op` (engine::read or engine::write) for chunked datasets. Returns true
// when the engine handled the call (done or failed, *err says which), false
// when the caller must use libhdf5's serial path instead.
template <typename Op>
bool try_engine(const std::shared_ptr<h5::ObjHandle>& obj, const h5::DatasetInfo& info, unsigned threads,
                const std::atomic<bool>* cancel, ErrorInfo* err, Op op) {
  if (info.layout != "chunked" || !engine_enabled()) return false;
  h5::Hid mtype;
  {
    Lock lock;
    mtype.reset(h5::make_mem_type(info.type.dtype));
  }
  engine::Options opt;
  opt.threads = threads;
  opt.cancel = cancel;
  // Reads write every selected byte (zeros for chunks never stored), so
  // their buffer need not be zeroed first: neither a fresh one nor the
  // caller's own (read into).
  opt.fill_never_stored = true;
  engine::Result r = op(mtype.get(), opt);  // takes the lock itself, per HDF5 call
  Lock lock;
  mtype.reset();
  if (r != engine::Result::Unsupported) return true;
  *err = ErrorInfo();
  return false;
}

// A new result buffer. Large ones are 2 MiB-aligned and advised for
// transparent huge pages: the first touch of fresh memory, not I/O or
// decoding, bounds a read into a new buffer (~3 us per 4 KiB page here;
// a 2 MiB page faults once). free() releases either kind.
void* alloc_result(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes < 2 * kHuge) return std::malloc(bytes);
  void* p = nullptr;
  size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  if (posix_memalign(&p, kHuge, rounded) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: THP off or unavailable is fine
#endif
  return p;
}

}  // namespace

// Describe a dataset (lock taken here). In read-only files the metadata cannot
// change, so the first description is cached on the handle: views and reads of
// a model's tensors then cost no extra HDF5 metadata calls.
bool describe(const std::shared_ptr<h5::ObjHandle>& obj, h5::DatasetInfo* info, ErrorInfo* err) {
  Lock lock;
  if (obj->info_cache) {
    *info = *obj->info_cache;
    return true;
  }
  if (!h5::describe_dataset(obj->id, info, err)) return false;
  if (!obj->file->writable()) obj->info_cache = std::make_shared<const h5::DatasetInfo>(*info);
  return true;
}

// A file opened read-only that someone truncated in place since: libhdf5
// reads past the end as zeros (silently wrong data), or fails on metadata it
// can no longer read, and a mapping faults (SIGBUS). fstat of libhdf5's own
// descriptor says how long the file is now. It must reach `end` (one past the
// bytes about to be read or touched) and libhdf5's end of allocated space
// (everything the file held when it was opened: chunk indexes, chunks, heaps).
// Writable files are skipped: there, space libhdf5 allocated may legitimately
// lie past the end of the file until it is written or flushed.
bool check_not_truncated(const std::shared_ptr<h5::FileHandle>& f, uint64_t end, const std::string& what,
                         ErrorInfo* err) {
  // An image's sealed memory file cannot shrink (and has no sec2 handle).
  if (f->writable() || f->in_memory()) return true;
  int fd = -1;
  {
    Lock lock;
    haddr_t eoa = 0;
    // Relative to the superblock: smaller than the physical size by the user
    // block, if any, so the check never refuses an intact file.
    if (H5Fget_eoa(f->id(), &eoa) >= 0 && eoa != HADDR_UNDEF) end = std::max<uint64_t>(end, eoa);
    fd = f->posix_fd();
    // No descriptor to ask (not the POSIX driver: a remote file, whose object
    // is pinned by its ETag instead): nothing to check.
    if (fd < 0) return true;
  }
  struct stat st;
  if (end == 0 || ::fstat(fd, &st) != 0) return true;
  if (static_cast<uint64_t>(st.st_size) >= end) return true;
  *err = ErrorInfo::make("H5_IO", what + " needs the first " + std::to_string(end) + " bytes of '" + f->path() +
                                      "', which is now " + std::to_string(st.st_size) +
                                      " bytes: the file was truncated after it was opened");
  return false;
}

namespace {

// Describes the dataset, checks it can be read or written and that `sel` fits
// it; *n is the number of selected elements. Shared by reads and writes.
bool prepare(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, h5::DatasetInfo* info, hsize_t* n,
             ErrorInfo* err) {
  std::vector<hsize_t> shape;
  return describe(obj, info, err) && check_readable(obj, *info, err) &&
         h5::selection_elements(*info, sel, n, &shape, err);
}

void do_write_data(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
                   const std::atomic<bool>* cancel, const WriteInput& in, ErrorInfo* err) {
  if (!obj->file->writable()) {
    *err = read_only_error(*obj->file);
    return;
  }
  h5::DatasetInfo info;
  hsize_t n;
  if (!prepare(obj, sel, &info, &n, err)) return;
  if (info.type.dtype == DType::String) {
    if (!in.is_string) {
      *err = ErrorInfo::type_error("dataset '" + obj->path + "' holds strings: pass a string[]");
      return;
    }
    Lock lock;
    h5::write_strings(obj->id, sel, in.strings, err);
    return;
  }
  if (in.is_string) {
    *err = ErrorInfo::type_error("dataset '" + obj->path + "' is numeric: pass a TypedArray");
    return;
  }
  size_t want = static_cast<size_t>(n) * h5::dtype_size(info.type.dtype);
  if (in.bytes != want) {
    *err = ErrorInfo::range_error("data has " + std::to_string(in.bytes) + " bytes but the selection of '" + obj->path +
                                  "' needs " + std::to_string(want));
    return;
  }
  if (want == 0) return;
  if (info.type.dtype == DType::Bool) {
    size_t bad = h5::first_invalid_bool(static_cast<const uint8_t*>(in.data), in.bytes);
    if (bad != SIZE_MAX) {
      *err = ErrorInfo::make("H5_INVALID_ARGUMENT", "bool data for '" + obj->path + "' has " +
                                                        std::to_string(static_cast<const uint8_t*>(in.data)[bad]) +
                                                        " at element " + std::to_string(bad) +
                                                        ": bool data must be 0 or 1");
      return;
    }
  }
  if (try_engine(obj, info, threads, cancel, err, [&](hid_t mtype, const engine::Options& opt) {
        return engine::write(obj->id, mtype, sel, in.data, in.bytes, opt, err);
      }))
    return;
  Lock lock;
  h5::write_numeric(obj->id, info.type.dtype, sel, in.data, err);
}

}  // namespace

void do_read(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
             const std::atomic<bool>* cancel, ReadResult* out, ErrorInfo* err) {
  h5::DatasetInfo info;
  hsize_t n;
  if (!prepare(obj, sel, &info, &n, err)) return;
  // A dataset reached through an external link is in another file than
  // obj->file, whose size says nothing about it.
  if (!obj->foreign_file && !check_not_truncated(obj->file, contiguous_end(info), "dataset '" + obj->path + "'", err))
    return;
  if (info.type.dtype == DType::String) {
    if (out->borrowed) {
      *err = ErrorInfo::type_error("dataset '" + obj->path + "' holds strings: 'into' takes numeric datasets only");
      return;
    }
    out->is_string = true;
    Lock lock;
    h5::read_strings(obj->id, sel, &out->strings, err);
    return;
  }
  size_t esize = h5::dtype_size(info.type.dtype);
  const size_t want = static_cast<size_t>(n) * esize;
  if (out->borrowed) {
    if (out->bytes != want) {
      *err = ErrorInfo::range_error("'into' has " + std::to_string(out->bytes) + " bytes but the selection of '" +
                                    obj->path + "' needs " + std::to_string(want));
      return;
    }
  } else {
    out->bytes = want;
  }
  if (out->bytes == 0) return;
  if (!out->borrowed) {
    out->data = alloc_result(out->bytes);
    if (!out->data) {
      *err = ErrorInfo::range_error("cannot allocate " + std::to_string(out->bytes) + " bytes for '" + obj->path + "'");
      return;
    }
  }
  // The engine writes every selected byte (opt.fill_never_stored).
  if (try_engine(obj, info, threads, cancel, err, [&](hid_t mtype, const engine::Options& opt) {
        return engine::read(obj->id, mtype, sel, out->data, out->bytes, opt, err);
      }))
    return;
  // libhdf5 leaves elements the file never stored (unallocated storage, or
  // chunks never written, with fill time "never") untouched: they must read
  // as 0, never as what the buffer held. Only allocated contiguous/compact
  // data is certain to overwrite every byte, so only that skips the zeroing.
  const bool complete = info.allocated && info.layout != "chunked";
  if (!complete) std::memset(out->data, 0, out->bytes);
  Lock lock;
  if (!h5::read_numeric(obj->id, info.type.dtype, sel, out->data, err)) h5::name_missing_filters(info, obj->path, err);
}

// A write that failed after it may have reached the file (an I/O error, not a
// bad argument or the caller's abort) leaves the file short of data.
void do_write(const std::shared_ptr<h5::ObjHandle>& obj, const engine::Selection& sel, unsigned threads,
              const std::atomic<bool>* cancel, const WriteInput& in, ErrorInfo* err) {
  do_write_data(obj, sel, threads, cancel, in, err);
  if (err->kind == h5::ErrorKind::H5 && err->code != "H5_ABORTED" && err->code != "H5_READ_ONLY" &&
      err->code != "H5_CLOSED")
    obj->file->mark_write_failed();
}

}  // namespace h5v::js
