// Per-dataset chunk index: file offset, stored size and filter mask
// of every chunk, built once and shared.
//
// Measured on this machine with libhdf5 1.10.8 (v1 B-tree index, 1-D):
//   chunks   H5Dget_chunk_info   _by_coord    H5Dget_chunk_storage_size
//    1024       10.9 us/call     11.0 us/call   0.41 us/call
//    4096       39.3 us/call     33.2 us/call   0.47 us/call
//   16384      139   us/call    135   us/call   0.53 us/call
// (with the 1.10 "latest" format indexes both are 4-5x slower still). In
// 1.10.8 BOTH chunk-info calls are linear in the number of chunks, so
// learning every chunk's address costs O(n^2): 1 ms for 256 chunks, 11 ms for
// 1024, 2.2 s for 16384. Only H5Dget_chunk_storage_size / H5Dread_chunk are
// real lookups. Hence two modes:
//   * addressed (total chunks <= max_addressed_chunks(), default 1024): every
//     chunk's file offset, size and filter mask, via _by_coord, built once and
//     cached. Lets read-only sec2 files be read with pread outside the lock.
//   * lookup (larger grids): no table; the engine fetches each chunk with
//     H5Dget_chunk_storage_size + H5Dread_chunk under the lock (about 1.5 us
//     of lock time per chunk plus the copy); decoding still runs in parallel.
//
// How the napi layer uses it:
//   * Simplest: do nothing. engine::read() calls ChunkIndex::get(dset), which
//     caches indexes of datasets in files opened READ-ONLY, keyed by
//     (H5O_info_t::fileno, H5O_info_t::addr). fileno is a per-open serial
//     number in libhdf5, so a closed-and-reopened file never hits a stale
//     entry. Files opened read-write (or SWMR-read) are never cached (the
//     index is rebuilt per call, after H5Dflush for read-write files) because
//     anything may change them.
//   * On file close call forget_file(file_id) (or forget(dset_id) on dataset
//     close) to release memory early; the cache is bounded (kCacheEntries,
//     least recently used evicted) so forgetting is an optimisation only.
//   * A caller that prefers owning it can keep the shared_ptr returned by
//     ChunkIndex::build() per open dataset handle and pass nothing else: the
//     engine always goes through get(), which returns the cached object.
// All functions take the global HDF5 lock themselves (recursive, so calling
// them with it held is also fine). No napi here.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"

namespace h5v::engine {

struct ChunkRecord {
  uint64_t addr = 0;       // absolute file offset (userblock added); valid if size > 0
  uint32_t size = 0;       // stored bytes; 0 = chunk not allocated
  uint32_t filter_mask = 0;
  bool allocated() const { return size != 0; }
};

class ChunkIndex {
 public:
  static constexpr size_t kCacheEntries = 64;
  // Grids up to this many chunks get an addressed index (see above).
  static uint64_t max_addressed_chunks();
  static void set_max_addressed_chunks(uint64_t n);  // tests/benchmarks; 0 = default

  // Builds a fresh index (no cache). On failure returns nullptr and sets *err.
  static std::shared_ptr<const ChunkIndex> build(hid_t dset, h5::ErrorInfo* err);
  // Cached for read-only files (see above); built fresh otherwise.
  static std::shared_ptr<const ChunkIndex> get(hid_t dset, h5::ErrorInfo* err);
  // Cache invalidation.
  static void forget(hid_t dset);
  static void forget_file(hid_t file);
  static void clear_cache();
  static size_t cache_size();

  int rank() const { return static_cast<int>(dims_.size()); }
  const std::vector<hsize_t>& dims() const { return dims_; }
  const std::vector<hsize_t>& chunk_dims() const { return chunk_; }
  const std::vector<hsize_t>& grid() const { return grid_; }  // chunks per dim
  uint64_t total_chunks() const { return total_; }
  uint64_t allocated_chunks() const { return nalloc_; }
  double build_ms() const { return build_ms_; }  // time spent in build()
  // True if the index holds every chunk's address (see above).
  bool addressed() const { return dense_; }
  // Record of the chunk whose grid coordinates are `gc` (chunk numbers, not
  // element offsets); addressed indexes only.
  const ChunkRecord& at(const hsize_t* gc) const { return table_[linear(gc)]; }
  uint64_t linear(const hsize_t* gc) const;

 private:
  std::vector<hsize_t> dims_, chunk_, grid_;
  uint64_t total_ = 0, nalloc_ = 0, base_ = 0;
  bool dense_ = false;
  double build_ms_ = 0;
  std::vector<ChunkRecord> table_;
};

}  // namespace h5v::engine
