// LZ4 in the HDF Group filter 32004 framing (as written by hdf5plugin):
//   u64 BE  total uncompressed size
//   u32 BE  block size (uncompressed bytes per block; last block may be short)
//   per block: u32 BE stored size, then that many bytes; a block whose stored
//   size equals its uncompressed size is stored raw.
#pragma once
#include "status.h"

namespace h5v::codecs {

constexpr size_t kLz4HeaderBytes = 12;
constexpr size_t kLz4DefaultBlock = size_t(1) << 30;  // filter default when cd_values[0]==0

// Upper bound of the framed output for n input bytes with the given block size.
size_t lz4_max_framed(size_t n, size_t block_size);

// Frame + compress. block_size 0 means kLz4DefaultBlock.
Status lz4_encode(const uint8_t* in, size_t n, size_t block_size, uint8_t* out, size_t cap, size_t* out_len);

// Reads only the 12-byte header: the declared total size (hostile: check it!).
Status lz4_declared_size(const uint8_t* in, size_t n, uint64_t* total);

// Walks the block headers without decoding: Corrupt unless the frame is
// structurally valid (every block present, no trailing bytes) and each
// compressed block is large enough to plausibly yield its declared size
// (at most kLz4MaxExpansion x). On Ok, *total is the declared size, now
// bounded by roughly kLz4MaxExpansion * n: safe to allocate (after a cap).
constexpr uint64_t kLz4MaxExpansion = 256;
Status lz4_check_frame(const uint8_t* in, size_t n, uint64_t* total);

// Bounds-checked decode of a whole frame into out (cap bytes).
Status lz4_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

}  // namespace h5v::codecs
