// Per-dataset chunk index: file offset, stored size and filter mask
// of every chunk, built once and shared.
//
// What libhdf5 can be trusted with. libhdf5 has two ways to find a chunk:
//   * the real lookup by coordinate (H5D__chunk_lookup), used by H5Dread,
//     H5Dread_chunk, H5Dwrite_chunk and H5Dget_chunk_storage_size;
//   * index iteration, used by H5Dget_chunk_info, H5Dget_chunk_info_by_coord,
//     H5Dget_num_chunks and H5Dchunk_iter: it walks every record and labels
//     it with coordinates. Records of the B-tree indexes carry their
//     coordinates; the positional indexes (fixed/extensible array, implicit)
//     have the iterate callback reconstruct them by counting in row-major
//     order. An extensible array numbers its chunks with the unlimited
//     dimension moved first ("swizzled"), which the 1.10 callback ignores, so
//     for an extensible array whose unlimited dimension is not the first,
//     _by_coord returns another chunk's record or "not allocated" (seen with
//     1.10.8: a (4,6) dataset, maxshape (4,None), chunks (2,3) read back as
//     0,1,2,12,13,14,... and rows 2-3 as zeros). The other index types agree
//     with the real lookup over the 542 layouts of the differential test
//     (test/native/test_engine_differential.cc).
// So no record is taken from the iteration alone:
//   1. Allocation and stored size of every chunk come from the real lookup
//      (H5Dget_chunk_storage_size, ~0.4 us a chunk). In 1.10 it fails for an
//      unallocated chunk, so failures count as "unallocated" only if the
//      number of chunks found equals H5Dget_num_chunks; otherwise the two
//      views of libhdf5 disagree and defer_to_libhdf5() is set: the engine
//      returns Unsupported and libhdf5's own H5Dread reads the dataset.
//   2. Addresses (for pread) come from the iteration (H5Dchunk_iter in one
//      pass where libhdf5 >= 1.12.3 has it, else _by_coord per chunk), and
//      only for index types whose labels are right; they are used only if
//      every record's allocation and size equal the real lookup's, every
//      chunk lies inside the file and no two overlap (addresses_verified()).
//      Otherwise the table still holds the verified allocation and sizes and
//      the engine fetches chunks with H5Dread_chunk (the real lookup) under
//      the lock; decoding stays parallel.
//   Steps 1-2 answer "allocated" for a chunk that only sits in libhdf5's
//   chunk cache (fill values an earlier H5Dread produced); such a chunk is
//   confirmed unallocated with H5Dread_chunk, which evicts it first. Files
//   open for writing get no table at all (lookup mode below): with dirty
//   chunks about, the size queries of step 1 were seen to coincide with
//   wrong data read back by libhdf5 itself (engine test
//   read_after_libhdf5_write_in_same_rw_session: H5Dwrite_chunk, a partial
//   H5Dwrite, H5Dflush, then a size query per chunk), a mechanism not
//   understood, so not relied on.
// Measured on this machine with libhdf5 1.10.8 (v1 B-tree index, 1-D):
//   chunks   H5Dget_chunk_info   _by_coord    H5Dget_chunk_storage_size
//    1024       10.9 us/call     11.0 us/call   0.41 us/call
//    4096       39.3 us/call     33.2 us/call   0.47 us/call
//   16384      139   us/call    135   us/call   0.53 us/call
// (with the 1.10 "latest" format indexes both are 4-5x slower still). In
// 1.10.8 BOTH chunk-info calls are linear in the number of chunks, so
// learning every chunk's address costs O(n^2): 1 ms for 256 chunks, 11 ms for
// 1024, 2.2 s for 16384. The cross-check of step 1 adds O(n): see
// bench/chunk_index_build.cc and docs/benchmarks.md for the measured cost
// (under 1 ms for 1024 chunks). Hence two modes:
//   * addressed (total chunks <= max_addressed_chunks(), default 1024, and
//     the file open read-only): the table above, built once and cached. With addresses_verified(), lets
//     read-only sec2 files be read with pread outside the lock.
//   * lookup (larger grids, files open for writing): no table; the engine fetches each chunk with
//     H5Dget_chunk_storage_size + H5Dread_chunk under the lock (about 1.5 us
//     of lock time per chunk plus the copy); decoding still runs in parallel.
//     A chunk that lookup reports missing is confirmed with _by_coord, so for
//     an index type whose labels are wrong and that has unallocated chunks,
//     defer_to_libhdf5() is set instead.
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
  uint64_t addr = 0;  // absolute file offset (userblock added); valid if size > 0
  uint32_t size = 0;  // stored bytes; 0 = chunk not allocated
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
  // True if the index holds every chunk's allocation and size (see above).
  bool addressed() const { return dense_; }
  // True if, in addition, every record's file address was cross-checked
  // (pread may be used); false: fetch chunks with H5Dread_chunk.
  bool addresses_verified() const { return addr_verified_; }
  // True if libhdf5's index queries could not be verified for this dataset:
  // the engine must leave the read to H5Dread.
  bool defer_to_libhdf5() const { return defer_; }
  // False for index types whose iteration labels chunks wrongly (see above).
  bool labels_trusted() const { return labels_trusted_; }
  // Record of the chunk whose grid coordinates are `gc` (chunk numbers, not
  // element offsets); addressed indexes only.
  const ChunkRecord& at(const hsize_t* gc) const { return table_[linear(gc)]; }
  uint64_t linear(const hsize_t* gc) const;

 private:
  static bool collect_records(hid_t dset, const ChunkIndex& idx, std::vector<ChunkRecord>* out);
  static bool confirm_unallocated(hid_t dset, const std::vector<hsize_t>& off, hsize_t size);
  // build()'s parts, in the order it runs them (chunk_index.cc says why each).
  bool read_grid(hid_t dcpl, hid_t space, h5::ErrorInfo* err);
  bool check_labels(hid_t dset, hid_t space, h5::ErrorInfo* err);
  bool lookup_sizes(hid_t dset, std::vector<hsize_t>* real, uint64_t* found, h5::ErrorInfo* err) const;
  const char* take_records(hid_t dset, const std::vector<hsize_t>& real, uint64_t found);
  void check_addresses(hid_t file);
  void chunk_offset(uint64_t l, std::vector<hsize_t>* off) const;

  std::vector<hsize_t> dims_, chunk_, grid_;
  uint64_t total_ = 0, nalloc_ = 0, base_ = 0;
  bool dense_ = false, addr_verified_ = false, defer_ = false, labels_trusted_ = true;
  double build_ms_ = 0;
  std::vector<ChunkRecord> table_;
};

}  // namespace h5v::engine
