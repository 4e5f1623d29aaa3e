// zlib-format deflate (what HDF5's H5Z_FILTER_DEFLATE writes), via libdeflate.
#pragma once
#include "status.h"

namespace h5v::codecs {

// Compressor/decompressor objects are per-thread; these helpers keep one per
// thread and level internally (thread_local), so they are safe to call from a pool.
size_t deflate_bound(size_t n, int level);
Status deflate_encode(const uint8_t* in, size_t n, int level, uint8_t* out, size_t cap, size_t* out_len);
// Decodes a zlib stream; OutputTooSmall if it would exceed cap.
Status deflate_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

}  // namespace h5v::codecs
