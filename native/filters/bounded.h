// Decode limits for every filter libhdf5 runs on h5vault's behalf.
//
// libhdf5's H5Dread decodes chunks through the registered H5Z filter
// classes. Its built-in deflate grows its output buffer until the stream ends
// (a 2 MB chunk can inflate to gigabytes) and its szip filter allocates
// whatever size the stream's header declares. A filter callback only sees the
// compressed bytes and cd_values, not the dataset, so the reader tells it the
// bound: DecodeLimit, a per-thread scope set around every H5Dread/H5Dwrite
// (libhdf5 runs filters on the calling thread). Without a scope the bound is
// the largest chunk libhdf5 1.10 can describe (4 GiB).
//
// register_bounded_filters() replaces the built-in deflate (1), shuffle (2),
// fletcher32 (3) and szip (4) classes with ones that refuse to produce more
// than the limit; encoding is delegated to libhdf5's own code so written bytes
// do not change. LZF and LZ4 (lzf_filter.cc, lz4_filter.cc) honour the same limit.
#pragma once
#include <cstdint>

#include <hdf5.h>

namespace h5v::filters {

// Largest chunk libhdf5 1.10 can store (its chunk sizes are 32-bit).
constexpr uint64_t kMaxChunkBytes = 0xFFFFFFFFu;

// The current thread's decode bound in bytes (kMaxChunkBytes without a scope).
uint64_t decode_limit();

// Sets the bound for the calling thread for its lifetime (nests).
class DecodeLimit {
 public:
  explicit DecodeLimit(uint64_t bytes);
  ~DecodeLimit();
  DecodeLimit(const DecodeLimit&) = delete;
  DecodeLimit& operator=(const DecodeLimit&) = delete;

 private:
  uint64_t prev_;
};

// What one chunk of `dset` may decode to: its declared size (file type size x
// chunk dimensions; variable-length types at 3x their in-memory size, an
// upper bound of their global heap IDs in the file) plus 4 bytes per filter (a fletcher32 checksum applied
// before compression is part of the compressed payload). kMaxChunkBytes for
// unchunked datasets (no filters run) or when the dataset cannot be described.
uint64_t chunk_decode_limit(hid_t dset);

// Replaces libhdf5's deflate, shuffle, fletcher32 and szip classes with
// bounded ones (caller holds the global HDF5 lock). A class libhdf5 was built
// without (szip) is left alone. Returns false if registration failed.
bool register_bounded_filters();

}  // namespace h5v::filters
