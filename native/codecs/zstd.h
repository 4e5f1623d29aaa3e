// Zstandard in the framing of HDF5 filter 32015 (aparamon/HDF5Plugin-Zstandard,
// as shipped by hdf5plugin): the whole chunk is one zstd frame, made by
// ZSTD_compress at the level in cd_values[0] (clamped to 1..ZSTD_maxCLevel()).
#pragma once
#include "status.h"

namespace h5v::codecs {

// The reference filter's level: cd_values[0] read as an int, clamped to
// 1..max (so 0 and "negative" levels written as unsigned become 1); 3
// (ZSTD_CLEVEL_DEFAULT) when there is no cd_value.
int zstd_filter_level(size_t cd_nelmts, const unsigned cd_values[]);
int zstd_max_level();

size_t zstd_bound(size_t n);

// One frame (content size recorded), byte-identical to ZSTD_compress(level).
// Incompressible if it does not fit cap. Per-thread context (thread_local).
Status zstd_encode(const uint8_t* in, size_t n, int level, uint8_t* out, size_t cap, size_t* out_len);

// The frame header's content size: Ok with *known=false when the frame does
// not record it (a streamed frame); Corrupt when there is no valid header.
Status zstd_declared_size(const uint8_t* in, size_t n, uint64_t* size, bool* known);

// Decodes the frame(s) into out, writing at most cap bytes: a stream that
// would produce more is OutputTooSmall (the decoder never allocates a
// window: single-pass into the caller's buffer). A recorded content size
// above cap is refused before decoding anything.
Status zstd_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

}  // namespace h5v::codecs
