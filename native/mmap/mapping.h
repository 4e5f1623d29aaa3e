// Reference-counted read-only-file mappings for zero-copy views (architecture.md,
// invariant 4). MAP_PRIVATE with PROT_READ|PROT_WRITE: a stray write into a
// view dirties only this process's copy-on-write page, never the file, and
// never faults. The mapping is made from libhdf5's own file descriptor, so it
// is the same inode HDF5 parsed even if the path was renamed over since.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../common/error.h"

namespace h5v::mmap {

class Mapping {
 public:
  // Maps the whole file behind `fd` at its current size. Returns nullptr and
  // sets err (code H5_NOT_VIEWABLE) on failure.
  static std::shared_ptr<Mapping> map_fd(int fd, const std::string& path, h5::ErrorInfo* err);
  // Opens `path` itself and maps the whole file, for formats h5vault reads
  // without libhdf5 (safetensors). The open is O_NONBLOCK so that a FIFO is
  // refused without waiting for a writer, and anything but a regular file is
  // refused before a byte is read (H5_OPEN_FAILED). A missing path is
  // H5_FILE_NOT_FOUND. An empty file gives an empty mapping (data() null).
  // The descriptor is closed before returning: the mapping keeps the inode.
  static std::shared_ptr<Mapping> map_path(const std::string& path, h5::ErrorInfo* err);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return base_; }
  size_t size() const { return size_; }
  // True if [offset, offset+len) lies inside the mapping.
  bool contains(uint64_t offset, uint64_t len) const { return offset <= size_ && len <= size_ - offset; }
  // Faults pages of [offset, offset+len) in (madvise WILLNEED + touch one byte
  // per page). Safe to call from any thread.
  void prefetch(uint64_t offset, uint64_t len) const;

  static size_t live_mappings();  // for tests
  static size_t live_bytes();

 private:
  Mapping(uint8_t* base, size_t size) : base_(base), size_(size) {}
  uint8_t* base_;
  size_t size_;
};

}  // namespace h5v::mmap
