// Parallel chunk pipeline. Plain C++ over hid_t: no napi.
//
// read():  chunk index (cached per dataset) -> raw chunk bytes under the global
//          lock (H5Dread_chunk or pread) -> decode on the thread pool outside
//          the lock -> scatter into the caller's buffer.
// write(): split into chunks -> encode on the pool -> H5Dwrite_chunk in order
//          under the lock.
// Anything the engine cannot do bit-exactly (unknown filters, scaleoffset,
// nbit, szip, non-chunked layouts, type conversion needed, H5T_VLEN/reference
// types, H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) returns Unsupported and the
// caller falls back to H5Dread/H5Dwrite. Unsupported is decided before any
// byte of `out` is touched or any chunk is written.
//
// Supported filters: deflate (1, via libdeflate), shuffle (2), fletcher32 (3,
// verified; the pre-1.6.3 byte-swapped checksum is accepted like libhdf5),
// LZF (32000), LZ4 (32004), in any order, honouring each chunk's filter mask.
// write() supports at most one compressor per pipeline.
//
// Threads: Options::threads is the number of workers for this call, the
// calling thread included (so 1 = no pool use); 0 = pool_size(). It is capped
// at pool_size() + 1. Several calls may run at once; they share the pool.
// Memory: beyond `out`, a read holds 2 chunk buffers per worker; a write
// holds 2 per worker plus at most `workers` encoded chunks awaiting their turn.
// Cancellation: Options::cancel is polled before every chunk; a cancelled call
// returns Failed with code "H5_ABORTED" (a cancelled write may have written
// some chunks). Error codes of our own: "H5_CORRUPT" (a chunk fails to decode,
// wrong size, fletcher32 mismatch; the message names the chunk's element
// offset), "H5_IO" (pread failed / file truncated), "H5_FILTER" (a mandatory
// filter failed to encode); HDF5 failures come from h5::capture_error.
// The chunk index (chunk_index.h) is cached for read-only files; the napi
// layer should call ChunkIndex::forget_file(file) when it closes a file.
// Reads of read-only sec2 files use pread on libhdf5's descriptor outside the
// lock, so the file must stay open for the duration of the call (the engine
// holds a reference on `dset` while it runs; close() waiting for pending work
// covers the rest).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "../common/selection.h"

namespace h5v::engine {

using h5v::Selection;  // common/selection.h

struct Options {
  unsigned threads = 0;                       // 0 = pool default (hardware cores)
  const std::atomic<bool>* cancel = nullptr;  // checked between chunks
  // Reads: write zeros for chunks never stored even when the dataset's fill
  // time is "never" (libhdf5 leaves those bytes untouched). With it every
  // selected byte of `out` is written, so the caller need not zero `out`
  // first: a reused or uninitialised buffer reads exactly as a zeroed one.
  bool fill_never_stored = false;
};

enum class Result { Done, Unsupported, Failed };

// Reads `sel` of dataset `dset` into `out` (out_bytes = selected elements *
// element size of mem_type). mem_type must be the native-endian type the
// caller wants; if the file type differs in byte order or size the engine
// returns Unsupported. Must NOT be called with the global lock held: the
// engine takes it itself around each HDF5 call. On Failed, *err is set.
Result read(hid_t dset, hid_t mem_type, const Selection& sel, void* out, size_t out_bytes, const Options& opt,
            h5::ErrorInfo* err);

// Writes the whole dataset (or a chunk-aligned selection) from `in`.
Result write(hid_t dset, hid_t mem_type, const Selection& sel, const void* in, size_t in_bytes, const Options& opt,
             h5::ErrorInfo* err);

// Size of the shared pool (creates it on first use).
unsigned pool_size();
// Sets the pool size for subsequent calls (0 = hardware cores).
void set_pool_size(unsigned n);
// Joins all pool threads (environment cleanup / process exit).
void shutdown_pool();

}  // namespace h5v::engine
