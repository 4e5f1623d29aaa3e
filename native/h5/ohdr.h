// A bounded parser of the object headers h5vault writes for its datasets, so
// loadModel can check a tensor index against the file's real layouts without
// an H5Dopen per tensor (docs/model-storage.md#why-the-one-call-check-is-still-a-full-check).
//
// It accepts only what it fully understands: a version 1 object header (the
// one libhdf5 1.10 writes for a dataset under the default format bounds) whose
// messages are exactly one dataspace (v1), one atomic little-endian integer or
// IEEE float datatype (v1, the canonical fields of h5vault's dtypes), one
// fill-value message (v2, no stored value), one contiguous layout (v3) whose
// size is the dataset's, attributes (skipped, as H5Dopen skips them), null
// messages and continuation chunks. Everything else (other versions, other
// message types, shared or unknown flags, duplicates, sizes that do not add
// up, addresses past the end of allocated space, overlapping chunks) answers
// NotUnderstood, and the caller asks libhdf5 for that object instead. Every
// length is bounded by constants below, not by the file. Plain C++: no
// libhdf5 call, so libFuzzer can drive it from memory (test/fuzz/fuzz_ohdr.cc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "types.h"

namespace h5v::h5::ohdr {

constexpr uint64_t kUndefined = ~uint64_t(0);  // HADDR_UNDEF
constexpr size_t kMaxChunk = 64 * 1024;        // bytes of one header chunk
constexpr size_t kMaxChunks = 16;              // chunk 0 plus continuations
constexpr size_t kMaxRank = 32;                // H5S_MAX_RANK

// Bytes of the file. get() returns `len` bytes at `off`, valid until the next
// call, or null when they are not all in the file.
class Source {
 public:
  virtual ~Source() = default;
  virtual const uint8_t* get(uint64_t off, size_t len) = 0;
};

// One source over bytes already in memory (fuzzing, tests).
class MemorySource : public Source {
 public:
  MemorySource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* get(uint64_t off, size_t len) override {
    return off <= size_ && len <= size_ - off ? data_ + off : nullptr;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// A file read with pread through a window, so headers that sit close
// together (a model's tensors) cost one read per window, not one per header.
class FileSource : public Source {
 public:
  FileSource(int fd, uint64_t size) : fd_(fd), size_(size) {}
  const uint8_t* get(uint64_t off, size_t len) override;

 private:
  int fd_;
  uint64_t size_;
  uint64_t start_ = 0;
  std::vector<uint8_t> buf_;
};

struct Dataset {
  DType dtype = DType::Unsupported;
  bool scalar = false;
  std::vector<uint64_t> shape;
  uint64_t nelements = 0;
  uint64_t bytes = 0;          // nelements * element size
  uint64_t addr = kUndefined;  // contiguous data address, kUndefined when not allocated
};

enum class Result { Dataset, NotUnderstood };

// The dataset whose object header starts at `addr`, in a file whose
// addresses are byte offsets (base address 0, 8-byte offsets and lengths) and
// whose allocated space ends at `eoa`. NotUnderstood leaves `out` unspecified.
Result parse_dataset(Source& src, uint64_t addr, uint64_t eoa, Dataset* out);

// True when the superblock at offset 0 of `src` is one whose addresses the
// parser can follow: signature at 0, base address 0, 8-byte offsets and lengths.
bool plain_superblock(Source& src);

}  // namespace h5v::h5::ohdr
