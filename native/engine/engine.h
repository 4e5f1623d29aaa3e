// Parallel chunk pipeline (issue #5). Plain C++ over hid_t: no napi.
//
// read():  chunk index (cached per dataset) -> raw chunk bytes under the global
//          lock (H5Dread_chunk or pread) -> decode on the thread pool outside
//          the lock -> scatter into the caller's buffer.
// write(): split into chunks -> encode on the pool -> H5Dwrite_chunk in order
//          under the lock.
// Anything the engine cannot do bit-exactly (unknown filters, scaleoffset,
// nbit, non-chunked layouts, type conversion needed) returns Unsupported and
// the caller falls back to H5Dread/H5Dwrite.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <hdf5.h>

#include "../h5/error.h"

namespace h5v::engine {

struct Selection {
  // Empty vectors mean "the whole dataset". step empty means all 1.
  std::vector<hsize_t> start, count, step;
};

struct Options {
  unsigned threads = 0;                       // 0 = pool default (hardware cores)
  const std::atomic<bool>* cancel = nullptr;  // checked between chunks
};

enum class Result { Done, Unsupported, Failed };

// Reads `sel` of dataset `dset` into `out` (out_bytes = selected elements *
// element size of mem_type). mem_type must be the native-endian type the
// caller wants; if the file type differs in byte order or size the engine
// returns Unsupported. Must NOT be called with the global lock held: the
// engine takes it itself around each HDF5 call. On Failed, *err is set.
Result read(hid_t dset, hid_t mem_type, const Selection& sel, void* out, size_t out_bytes,
            const Options& opt, h5::ErrorInfo* err);

// Writes the whole dataset (or a chunk-aligned selection) from `in`.
Result write(hid_t dset, hid_t mem_type, const Selection& sel, const void* in, size_t in_bytes,
             const Options& opt, h5::ErrorInfo* err);

// Size of the shared pool (creates it on first use).
unsigned pool_size();
// Sets the pool size for subsequent calls (0 = hardware cores).
void set_pool_size(unsigned n);
// Joins all pool threads (environment cleanup / process exit).
void shutdown_pool();

}  // namespace h5v::engine
