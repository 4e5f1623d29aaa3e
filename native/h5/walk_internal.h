// The Walker of the untrusted-file walk, shared by its two halves; not part
// of walk.h's interface. walk.cc owns the entry points and the object graph
// (superblock, groups, links, attributes, the bounded H5Ovisit); walk_dataset.cc
// owns what a dataset declares and stores (layout, filters, sizes, chunk
// index, variable-length data). Every check that fails records the reason in
// the report and throws Rejected.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>

#include <hdf5.h>

#include "../common/error.h"
#include "walk.h"

namespace h5v::h5 {

struct DatasetInfo;  // dataset.h

namespace walk_detail {

// Thrown once the report holds a rejection; unwinds (closing every Hid) to
// walk_file/walk_image. Never thrown from inside a libhdf5 callback: the
// iteration callbacks only collect names, work happens after they return.
struct Rejected {};

// a * b, saturating at UINT64_MAX (a declared size that overflows is simply "too large").
inline uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

// libhdf5 reports a failed malloc as one of these; the fix for them is the
// caller's memory limit, so they get their own reason.
bool is_allocation_failure(const ErrorInfo& e);

// A byte count for messages: "1.5 MiB".
std::string human(uint64_t bytes);

// One link of a group, as H5Literate listed it (val_size: 0 for hard links).
struct LinkRec {
  std::string name;
  H5L_type_t type;
  size_t val_size;
};

class Walker {
 public:
  Walker(const WalkLimits& lim, WalkReport* rep) : lim_(lim), rep_(rep) {}
  // Walks the open file; throws Rejected once the report holds a rejection.
  void run(hid_t fid);

 private:
  // walk.cc: the object graph.
  [[noreturn]] void reject(const char* reason, std::string detail, const std::string& object);
  [[noreturn]] void corrupt(const std::string& what, const std::string& object);
  void visit(hid_t obj, const std::string& path, uint32_t depth);
  void visit_group(hid_t g, const std::string& path, uint32_t depth);
  std::string external_target(hid_t g, const LinkRec& l, const std::string& child);
  void soft_target(hid_t g, const LinkRec& l, const std::string& child);
  void visit_attrs(hid_t obj, const std::string& path, hsize_t declared_count);
  // walk_dataset.cc: each dataset's storage.
  void visit_dataset(hid_t d, const std::string& path);
  void read_generic(hid_t d, const std::string& path);
  uint64_t vlen_bytes(hid_t d, const DatasetInfo& info, const std::string& path);
  uint64_t walk_chunks(hid_t d, const DatasetInfo& info, size_t esize, const std::string& path, uint64_t* decoded);
  void check_chunk_extent(haddr_t addr, hsize_t size, const std::string& path);

  const WalkLimits& lim_;
  WalkReport* rep_;
  std::unordered_set<haddr_t> seen_;
  uint64_t objects_ = 0;
  hsize_t userblock_ = 0;
};

}  // namespace walk_detail
}  // namespace h5v::h5
